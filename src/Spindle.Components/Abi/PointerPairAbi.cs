using System.Buffers.Binary;
using Spindle.Components.Types;

namespace Spindle.Components.Abi;

/// <summary>
/// Types carried as a (pointer, length) pair of i32s — strings and lists: 8 bytes in memory, two flat values.
/// Subclasses only say how to lift and lower the pointed-to data.
/// </summary>
internal abstract class PointerPairAbi : AbiType
{
    protected PointerPairAbi(ValType type) : base(type) { Size = 8; Align = 4; Flat = [FlatKind.I32, FlatKind.I32]; }

    /// <summary>Reads the value at (ptr, len) in guest memory.</summary>
    protected abstract object Lift(AbiContext cx, uint ptr, uint len);

    /// <summary>Writes the value into guest memory (through realloc) and returns where.</summary>
    protected abstract (uint Ptr, uint Len) Lower(AbiContext cx, object? value);

    public sealed override object? Load(AbiContext cx, uint ptr)
    {
        var s = cx.Slice(ptr, 8);
        return Lift(cx, BinaryPrimitives.ReadUInt32LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[4..]));
    }

    public sealed override void Store(AbiContext cx, object? value, uint ptr)
    {
        var (p, n) = Lower(cx, value);
        var s = cx.Slice(ptr, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(s, p);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], n);
    }

    public sealed override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i)
    {
        var p = (uint)flat[i++];
        var n = (uint)flat[i++];
        return Lift(cx, p, n);
    }

    public sealed override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i)
    {
        var (p, n) = Lower(cx, value);
        flat[i++] = p;
        flat[i++] = n;
    }
}
