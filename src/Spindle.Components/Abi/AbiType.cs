using System.Buffers.Binary;
using System.Text;
using Spindle.Components.Types;

namespace Spindle.Components.Abi;

/// <summary>Core value types of flattened component values.</summary>
internal enum FlatKind : byte { I32, I64, F32, F64 }

/// <summary>
/// The lift/lower plan of one component value type, built once per type: size, alignment, flattened core types,
/// and the four canonical ABI operations. Flat values travel as <see cref="ulong"/> bit patterns (32-bit values
/// zero-extended), which makes the variant "join" coercions of the spec a matter of reading the low bits.
/// </summary>
internal abstract class AbiType(ValType type)
{
    public readonly ValType Type = type;
    public int Size;
    public int Align;
    public FlatKind[] Flat = [];

    /// <summary>Reads a value from guest memory at <paramref name="ptr"/> (already bounds-checked by the caller for <see cref="Size"/>).</summary>
    public abstract object? Load(AbiContext cx, uint ptr);

    /// <summary>Writes a host value to guest memory at <paramref name="ptr"/>.</summary>
    public abstract void Store(AbiContext cx, object? value, uint ptr);

    public abstract object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i);

    public abstract void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i);

    protected Exception BadValue(object? value) =>
        new InvalidCastException($"cannot lower {(value is null ? "null" : value.GetType().Name)} as {TypePrinter.Print(Type)}");

    public override string ToString() => TypePrinter.Print(Type);

    public static uint AlignTo(uint ptr, int align) => (uint)((ptr + (uint)align - 1) & ~(uint)(align - 1));
    public static int AlignTo(int n, int align) => (n + align - 1) & ~(align - 1);
}

/// <summary>bool and the integer types.</summary>
internal sealed class IntAbi : AbiType
{
    private readonly PrimitiveKind _kind;

    public IntAbi(PrimitiveType t) : base(t)
    {
        _kind = t.Kind;
        (Size, Flat) = t.Kind switch
        {
            PrimitiveKind.Bool or PrimitiveKind.S8 or PrimitiveKind.U8 => (1, [FlatKind.I32]),
            PrimitiveKind.S16 or PrimitiveKind.U16 => (2, [FlatKind.I32]),
            PrimitiveKind.S32 or PrimitiveKind.U32 => (4, [FlatKind.I32]),
            _ => (8, new[] { FlatKind.I64 }),
        };
        Align = Size;
    }

    public override object? Load(AbiContext cx, uint ptr)
    {
        var s = cx.Slice(ptr, Size);
        return _kind switch
        {
            PrimitiveKind.Bool => s[0] != 0,
            PrimitiveKind.S8 => (sbyte)s[0],
            PrimitiveKind.U8 => s[0],
            PrimitiveKind.S16 => BinaryPrimitives.ReadInt16LittleEndian(s),
            PrimitiveKind.U16 => BinaryPrimitives.ReadUInt16LittleEndian(s),
            PrimitiveKind.S32 => BinaryPrimitives.ReadInt32LittleEndian(s),
            PrimitiveKind.U32 => BinaryPrimitives.ReadUInt32LittleEndian(s),
            PrimitiveKind.S64 => BinaryPrimitives.ReadInt64LittleEndian(s),
            _ => (object)BinaryPrimitives.ReadUInt64LittleEndian(s),
        };
    }

    public override void Store(AbiContext cx, object? value, uint ptr)
    {
        var bits = Bits(value);
        var s = cx.Slice(ptr, Size);
        switch (Size)
        {
            case 1: s[0] = (byte)bits; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)bits); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)bits); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(s, bits); break;
        }
    }

    public override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i)
    {
        var v = flat[i++];
        return _kind switch
        {
            PrimitiveKind.Bool => (uint)v != 0,
            PrimitiveKind.S8 => (sbyte)v,
            PrimitiveKind.U8 => (byte)v,
            PrimitiveKind.S16 => (short)v,
            PrimitiveKind.U16 => (ushort)v,
            PrimitiveKind.S32 => (int)v,
            PrimitiveKind.U32 => (uint)v,
            PrimitiveKind.S64 => (long)v,
            _ => (object)v,
        };
    }

    public override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i) => flat[i++] = Bits(value);

    /// <summary>The value as zero-extended bits of its core representation (signed values sign-extend to 32 bits first, as i32).</summary>
    private ulong Bits(object? value) => (_kind, value) switch
    {
        (PrimitiveKind.Bool, bool b) => b ? 1UL : 0UL,
        (PrimitiveKind.S8, sbyte x) => (uint)x,
        (PrimitiveKind.U8, byte x) => x,
        (PrimitiveKind.S16, short x) => (uint)x,
        (PrimitiveKind.U16, ushort x) => x,
        (PrimitiveKind.S32, int x) => (uint)x,
        (PrimitiveKind.U32, uint x) => x,
        (PrimitiveKind.S64, long x) => (ulong)x,
        (PrimitiveKind.U64, ulong x) => x,
        _ => throw BadValue(value),
    };
}

/// <summary>f32 and f64: NaNs are canonicalized in both directions.</summary>
internal sealed class FloatAbi : AbiType
{
    private const uint CanonicalNaN32 = 0x7fc00000;
    private const ulong CanonicalNaN64 = 0x7ff8000000000000;
    private readonly bool _is64;

    public FloatAbi(PrimitiveType t) : base(t)
    {
        _is64 = t.Kind == PrimitiveKind.F64;
        Size = Align = _is64 ? 8 : 4;
        Flat = [_is64 ? FlatKind.F64 : FlatKind.F32];
    }

    private object FromBits(ulong bits)
    {
        if (_is64)
        {
            var d = BitConverter.Int64BitsToDouble((long)bits);
            return double.IsNaN(d) ? BitConverter.Int64BitsToDouble((long)CanonicalNaN64) : d;
        }
        var f = BitConverter.Int32BitsToSingle((int)(uint)bits);
        return float.IsNaN(f) ? BitConverter.Int32BitsToSingle((int)CanonicalNaN32) : f;
    }

    private ulong ToBits(object? value) => (_is64, value) switch
    {
        (true, double d) => double.IsNaN(d) ? CanonicalNaN64 : (ulong)BitConverter.DoubleToInt64Bits(d),
        (false, float f) => float.IsNaN(f) ? CanonicalNaN32 : (uint)BitConverter.SingleToInt32Bits(f),
        _ => throw BadValue(value),
    };

    public override object? Load(AbiContext cx, uint ptr)
    {
        var s = cx.Slice(ptr, Size);
        return FromBits(_is64 ? BinaryPrimitives.ReadUInt64LittleEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s));
    }

    public override void Store(AbiContext cx, object? value, uint ptr)
    {
        var bits = ToBits(value);
        var s = cx.Slice(ptr, Size);
        if (_is64) BinaryPrimitives.WriteUInt64LittleEndian(s, bits);
        else BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)bits);
    }

    public override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i) => FromBits(flat[i++]);

    public override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i) => flat[i++] = ToBits(value);
}

/// <summary>char: a Unicode scalar value carried as <see cref="Rune"/>; anything else traps.</summary>
internal sealed class CharAbi : AbiType
{
    public CharAbi() : base(T.Char) { Size = Align = 4; Flat = [FlatKind.I32]; }

    private static Rune Lift(uint v) => Rune.IsValid(v) ? new Rune(v)
        : throw AbiContext.Trap($"invalid char: 0x{v:x} is not a Unicode scalar value");

    private uint Bits(object? value) => value switch
    {
        Rune r => (uint)r.Value,
        char c when !char.IsSurrogate(c) => c,
        _ => throw BadValue(value),
    };

    public override object? Load(AbiContext cx, uint ptr) => Lift(BinaryPrimitives.ReadUInt32LittleEndian(cx.Slice(ptr, 4)));
    public override void Store(AbiContext cx, object? value, uint ptr) => BinaryPrimitives.WriteUInt32LittleEndian(cx.Slice(ptr, 4), Bits(value));
    public override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i) => Lift((uint)flat[i++]);
    public override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i) => flat[i++] = Bits(value);
}
