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

/// <summary>
/// <c>stream&lt;T&gt;</c> and <c>future&lt;T&gt;</c>: an i32 handle to a readable end in the guest. Lowering a host
/// <see cref="Values.HostStream"/>/<see cref="Values.HostFuture"/> adds its readable end to the guest's table (the
/// spec's lower_stream/lower_future). A guest passing an end to the host is not supported: that traps.
/// </summary>
internal sealed class AsyncValueAbi : AbiType
{
    public AsyncValueAbi(ValType t) : base(t)
    {
        Size = Align = 4;
        Flat = [FlatKind.I32];
    }

    private uint Lower(AbiContext cx, object? value) => Type switch
    {
        StreamType when value is Values.HostStream s => (uint)cx.Table.Add(new HandleEntry(AsyncHandleKind.ReadableStream, new ReadableEnd(s, Type), own: true, borrowScope: null)),
        FutureType when value is Values.HostFuture f => (uint)cx.Table.Add(new HandleEntry(AsyncHandleKind.ReadableFuture, new ReadableEnd(f, Type), own: true, borrowScope: null)),
        _ => throw BadValue(value),
    };

    private object Lift() => throw AbiContext.Trap($"passing a {TypePrinter.Print(Type)} end to the host is not supported");

    public override object? Load(AbiContext cx, uint ptr) => Lift();
    public override void Store(AbiContext cx, object? value, uint ptr) => BinaryPrimitives.WriteUInt32LittleEndian(cx.Slice(ptr, 4), Lower(cx, value));
    public override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i) => Lift();
    public override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i) => flat[i++] = Lower(cx, value);
}
