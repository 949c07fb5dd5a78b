using System.Buffers.Binary;
using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Types;

namespace Spindle.Components.Abi;

/// <summary>
/// own&lt;R&gt; and borrow&lt;R&gt; of host resources: an i32 handle in the guest, the host object itself in C#.
/// Lifting an own moves it out of the guest's table (the host now owns the object); lifting a borrow lends the
/// handle until the host call returns. Lowering an own inserts the object as an owned handle; lowering a borrow
/// (export arguments) inserts a borrow handle the guest must drop before the call returns.
/// </summary>
internal sealed class HandleAbi : AbiType
{
    private readonly ResourceType _resource;
    private readonly bool _own;

    public HandleAbi(ValType t, ResourceType resource, bool own) : base(t)
    {
        _resource = resource;
        _own = own;
        Size = Align = 4;
        Flat = [FlatKind.I32];
    }

    private object Lift(AbiContext cx, uint handle)
    {
        if (_resource is not HostResourceType)
            throw AbiContext.Trap($"component-defined resource {HandleTable.Describe(_resource)} cannot be passed to the host");
        if (_own) return cx.Table.Remove(handle, _resource).Rep;
        var e = cx.Table.Get(handle, _resource);
        if (e.Own) cx.Lend(e);
        return e.Rep;
    }

    private uint Lower(AbiContext cx, object? value)
    {
        if (value is null) throw BadValue(value);
        if (_resource is not HostResourceType)
            throw new InvalidOperationException($"the host cannot create handles to component-defined resource {HandleTable.Describe(_resource)}");
        if (_own) return (uint)cx.Table.Add(new HandleEntry(_resource, value, own: true, borrowScope: null));
        cx.BorrowCount++;
        return (uint)cx.Table.Add(new HandleEntry(_resource, value, own: false, borrowScope: cx));
    }

    public override object? Load(AbiContext cx, uint ptr) => Lift(cx, BinaryPrimitives.ReadUInt32LittleEndian(cx.Slice(ptr, 4)));
    public override void Store(AbiContext cx, object? value, uint ptr) => BinaryPrimitives.WriteUInt32LittleEndian(cx.Slice(ptr, 4), Lower(cx, value));
    public override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i) => Lift(cx, (uint)flat[i++]);
    public override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i) => flat[i++] = Lower(cx, value);
}
