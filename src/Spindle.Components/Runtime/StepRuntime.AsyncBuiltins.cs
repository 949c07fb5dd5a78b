using Spindle.Components.Abi;
using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Planning;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasmtime;

namespace Spindle.Components.Runtime;

// The component-model async built-ins a step's core module may import: waitable sets, subtasks, and the readable
// ends of streams and futures the host writes (see "canon lower async" in StepRuntime.cs for why nothing ever waits).
internal sealed partial class StepRuntime
{
    private static readonly WasmFuncType VoidToI32 = new([], [WasmValueKind.I32]);
    private static readonly WasmFuncType I32I32ToVoid = new([WasmValueKind.I32, WasmValueKind.I32], []);
    private static readonly WasmFuncType I32I32ToI32 = new([WasmValueKind.I32, WasmValueKind.I32], [WasmValueKind.I32]);

    /// <summary>
    /// The async built-ins (CanonicalABI.md "canon waitable-set.*", "waitable.join", "subtask.*"), over the
    /// handle table of the component instance that defined them. Every handle is checked (range, liveness, kind).
    /// </summary>
    private void DefineAsyncBuiltin(ImportBinding b, AsyncBuiltinItem x, Component component)
    {
        if (b.Kind != CoreSort.Func) throw new ComponentLoadException($"core import '{b.Module}' '{b.Name}' is a {b.Kind} but is given a built-in function");
        var table = x.ComponentInstance;
        switch (x.Op)
        {
            case CanonKind.WaitableSetNew:
                Base.DefineFunc(b.Module, b.Name, VoidToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var inst = ComponentInstance.Of(caller.Extension, component);
                    results[0] = WasmValue.I32(inst.Tables[table].Add(new HandleEntry(AsyncHandleKind.WaitableSet, new WaitableSet(), own: true, borrowScope: null)));
                });
                break;
            case CanonKind.WaitableSetDrop:
                Base.DefineFunc(b.Module, b.Name, DropType, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var inst = ComponentInstance.Of(caller.Extension, component);
                    var set = (WaitableSet)inst.Tables[table].Remove((uint)args[0].AsI32(), AsyncHandleKind.WaitableSet).Rep;
                    if (set.Members > 0) throw AbiContext.Trap($"waitable-set.drop: the set still has {set.Members} waitables joined");
                });
                break;
            case CanonKind.WaitableJoin:
                Base.DefineFunc(b.Module, b.Name, I32I32ToVoid, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var t = ComponentInstance.Of(caller.Extension, component).Tables[table];
                    var w = t.GetAny((uint)args[0].AsI32(), "waitable");
                    if (w.Type is not AsyncHandleKind { IsWaitable: true })
                        throw AbiContext.Trap($"waitable.join: handle index {(uint)args[0].AsI32()} refers to a {HandleTable.Describe(w.Type)}, not a waitable (subtask, stream or future end)");
                    // Only stream and future ends exist (no subtask is ever created, see LiftArgs).
                    var end = (ReadableEnd)w.Rep;
                    var si = (uint)args[1].AsI32();
                    end.Join(si == 0 ? null : (WaitableSet)t.Get(si, AsyncHandleKind.WaitableSet).Rep);
                });
                break;
            case CanonKind.SubtaskDrop:
                Base.DefineFunc(b.Module, b.Name, DropType, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                    ComponentInstance.Of(caller.Extension, component).Tables[table].Remove((uint)args[0].AsI32(), AsyncHandleKind.Subtask));
                break;
            case CanonKind.SubtaskCancel:
                Base.DefineFunc(b.Module, b.Name, I32ToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    ComponentInstance.Of(caller.Extension, component).Tables[table].Get((uint)args[0].AsI32(), AsyncHandleKind.Subtask);
                    throw AbiContext.Trap("subtask.cancel: the subtask has already returned");
                });
                break;
            case CanonKind.StreamRead:
                DefineStreamRead(b, x, component);
                break;
            case CanonKind.FutureRead:
                DefineFutureRead(b, x, component);
                break;
            case CanonKind.StreamCancelRead or CanonKind.FutureCancelRead:
            {
                var kind = x.Op == CanonKind.StreamCancelRead ? AsyncHandleKind.ReadableStream : AsyncHandleKind.ReadableFuture;
                var what = x.Op == CanonKind.StreamCancelRead ? "stream.cancel-read" : "future.cancel-read";
                var type = x.Type!;
                Base.DefineFunc(b.Module, b.Name, I32ToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var h = (uint)args[0].AsI32();
                    CheckEnd(ComponentInstance.Of(caller.Extension, component).Tables[table].Get(h, kind), type, what, h);
                    // Every read completes when it is made, so no copy is ever in progress to cancel.
                    throw AbiContext.Trap($"{what}: no read is in progress on handle {h}");
                });
                break;
            }
            case CanonKind.StreamDropReadable or CanonKind.FutureDropReadable:
            {
                var kind = x.Op == CanonKind.StreamDropReadable ? AsyncHandleKind.ReadableStream : AsyncHandleKind.ReadableFuture;
                var what = x.Op == CanonKind.StreamDropReadable ? "stream.drop-readable" : "future.drop-readable";
                var type = x.Type!;
                Base.DefineFunc(b.Module, b.Name, DropType, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var t = ComponentInstance.Of(caller.Extension, component).Tables[table];
                    var h = (uint)args[0].AsI32();
                    var end = CheckEnd(t.Get(h, kind), type, what, h);
                    t.Remove(h, kind);
                    end.Join(null);
                });
                break;
            }
            case CanonKind.WaitableSetPoll or CanonKind.WaitableSetWait:
            {
                var wait = x.Op == CanonKind.WaitableSetWait;
                var memory = x.Memory!;
                Base.DefineFunc(b.Module, b.Name, I32I32ToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var inst = ComponentInstance.Of(caller.Extension, component);
                    var set = (WaitableSet)inst.Tables[table].Get((uint)args[0].AsI32(), AsyncHandleKind.WaitableSet).Rep;
                    // No event can be pending (no subtask or stream end exists). Waiting for one would block the
                    // synchronous task, which the spec forbids.
                    if (wait)
                        throw AbiContext.Trap($"waitable-set.wait: cannot block a synchronous task before returning (the set has {set.Members} waitables and no pending event)");
                    var ptr = (uint)args[1].AsI32();
                    if ((ptr & 3) != 0) throw AbiContext.Trap($"waitable-set.poll: event pointer 0x{ptr:x} is not 4-byte aligned");
                    var mem = inst.BuiltinMemory(memory).GetSpan(caller.Context);
                    if ((ulong)ptr + 8 > (ulong)mem.Length)
                        throw AbiContext.Trap($"waitable-set.poll: event pointer 0x{ptr:x} + 8 bytes is outside the {mem.Length}-byte memory");
                    mem.Slice((int)ptr, 8).Clear(); // (waitable index, payload) = (0, 0) for EventCode.NONE
                    results[0] = WasmValue.I32(WaitableSet.EventNone);
                });
                break;
            }
        }
    }

    private static readonly WasmFuncType StreamReadType = new([WasmValueKind.I32, WasmValueKind.I32, WasmValueKind.I32], [WasmValueKind.I32]);

    /// <summary>The end's stream/future type must be the built-in's (the spec's <c>e.shared.t != stream_t.t</c>).</summary>
    private static ReadableEnd CheckEnd(HandleEntry e, ValType type, string what, uint handle)
    {
        var end = (ReadableEnd)e.Rep;
        if (!TypeEquality.Equal(end.Type, type))
            throw AbiContext.Trap($"{what}: handle {handle} is a {TypePrinter.Print(end.Type)}, not a {TypePrinter.Print(type)}");
        return end;
    }

    /// <summary>The checks of the spec's stream_copy/future_copy before anything is copied.</summary>
    private static void CheckRead(ReadableEnd end, AsyncBuiltinItem x, string what, uint handle)
    {
        if (end.Done)
            throw AbiContext.Trap($"{what}: handle {handle} is done (its writer was dropped, or its value was read): it can only be dropped");
        if (end.Set is not null && !x.Options!.Async)
            throw AbiContext.Trap($"{what}: a synchronous read of handle {handle}, which is in a waitable set");
    }

    /// <summary>
    /// <c>stream.read</c> (CanonicalABI.md stream_copy): copies up to n elements of the host's stream into the guest's
    /// buffer at ptr (lowered with this built-in's canon options: strings through its realloc) and returns
    /// COMPLETED | count &lt;&lt; 4; once every element was read the host's writer is gone, so the next read
    /// returns DROPPED (and the end is done). Nothing waits: a synchronous and an async read behave the same.
    /// </summary>
    private void DefineStreamRead(ImportBinding b, AsyncBuiltinItem x, Component component)
    {
        const int MaxLength = (1 << 28) - 1; // Buffer.MAX_LENGTH
        var table = x.ComponentInstance;
        var type = (StreamType)x.Type!;
        var elem = type.Element is null ? null : AbiBuilder.Build(type.Element);
        var what = $"stream.read of {TypePrinter.Print(type)}";
        Base.DefineFunc(b.Module, b.Name, StreamReadType, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            var inst = ComponentInstance.Of(caller.Extension, component);
            var h = (uint)args[0].AsI32();
            var end = CheckEnd(inst.Tables[table].Get(h, AsyncHandleKind.ReadableStream), type, "stream.read", h);
            CheckRead(end, x, "stream.read", h);
            var ptr = (uint)args[1].AsI32();
            var n = (uint)args[2].AsI32();
            if (n > MaxLength) throw AbiContext.Trap($"stream.read: length {n} is more than {MaxLength}");
            var stream = (HostStream)end.Shared;
            var remaining = stream.Elements.Count - stream.Position;
            if (elem is not null && n > 0)
            {
                if ((ptr & (uint)(elem.Align - 1)) != 0) throw AbiContext.Trap($"stream.read: buffer pointer 0x{ptr:x} is not {elem.Align}-byte aligned");
                var length = inst.BuiltinMemory(x.Memory!).GetSpan(caller.Context).Length;
                if ((ulong)ptr + (ulong)n * (ulong)elem.Size > (ulong)length)
                    throw AbiContext.Trap($"stream.read: buffer [0x{ptr:x}, +{n} elements of {elem.Size} bytes) is outside the {length}-byte memory");
            }
            if (remaining == 0)
            {
                end.Done = true;
                results[0] = WasmValue.I32(WaitableSet.CopyDropped);
                return;
            }
            var count = (int)Math.Min(n, (uint)remaining);
            if (elem is not null && count > 0)
            {
                var cx = inst.EnterBuiltin(x, caller.Context, what);
                try
                {
                    for (var i = 0; i < count; i++)
                        elem.Store(cx, stream.Elements[stream.Position + i], ptr + (uint)(i * elem.Size));
                }
                finally { cx.End(); }
            }
            stream.Position += count;
            results[0] = WasmValue.I32(WaitableSet.CopyCompleted | (count << 4));
        });
    }

    /// <summary>
    /// <c>future.read</c> (CanonicalABI.md future_copy): the host's value is there, so the read stores it at ptr
    /// (lowered with this built-in's canon options) and returns COMPLETED; the end is then done.
    /// </summary>
    private void DefineFutureRead(ImportBinding b, AsyncBuiltinItem x, Component component)
    {
        var table = x.ComponentInstance;
        var type = (FutureType)x.Type!;
        var payload = type.Payload is null ? null : AbiBuilder.Build(type.Payload);
        var what = $"future.read of {TypePrinter.Print(type)}";
        Base.DefineFunc(b.Module, b.Name, I32I32ToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            var inst = ComponentInstance.Of(caller.Extension, component);
            var h = (uint)args[0].AsI32();
            var end = CheckEnd(inst.Tables[table].Get(h, AsyncHandleKind.ReadableFuture), type, "future.read", h);
            CheckRead(end, x, "future.read", h);
            if (payload is not null)
            {
                var ptr = (uint)args[1].AsI32();
                if ((ptr & (uint)(payload.Align - 1)) != 0) throw AbiContext.Trap($"future.read: buffer pointer 0x{ptr:x} is not {payload.Align}-byte aligned");
                var cx = inst.EnterBuiltin(x, caller.Context, what);
                try
                {
                    cx.Slice(ptr, payload.Size);
                    payload.Store(cx, ((HostFuture)end.Shared).Value, ptr);
                }
                finally { cx.End(); }
            }
            end.Done = true;
            results[0] = WasmValue.I32(WaitableSet.CopyCompleted);
        });
    }
}
