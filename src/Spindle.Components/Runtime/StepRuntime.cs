using Spindle.Components.Abi;
using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Planning;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasmtime;

namespace Spindle.Components.Runtime;

/// <summary>
/// One core instantiation of the plan, ready to replay: the compiled module, a base linker holding the host
/// functions it imports (defined once, at load), and the imports that come from earlier instances of the same
/// store. When there are none, the module is pre-instantiated once and replays without a linker.
/// </summary>
internal sealed class StepRuntime : IDisposable
{
    private static readonly WasmFuncType DropType = new([WasmValueKind.I32], []);
    private static readonly WasmFuncType I32ToI32 = new([WasmValueKind.I32], [WasmValueKind.I32]);

    public StepRuntime(InstantiateStep step, WasmModule module, bool hasStart, WasmEngine engine, Component component)
    {
        Step = step;
        Module = module;
        Base = new WasmLinker(engine);
        var storeImports = new List<StoreImport>();
        var defined = new HashSet<(string, string)>();
        if (Array.Exists(step.Imports, b => b.Source is CoreHostItem))
        {
            var define = component.CoreHost ?? throw new ComponentLoadException($"core module {step.Module} has core-level host imports but no one defines them");
            _importsAsync = true; // the embedder's functions may be async (WASI preview1's fd_read, fd_write, poll_oneoff)
            try { define(Base, module); }
            catch (WasmtimeException e) { throw new ComponentLoadException($"core module {step.Module}: defining its host imports failed: {e.Message}", e); }
        }
        foreach (var b in step.Imports)
        {
            if (!defined.Add((b.Module, b.Name))) continue;
            try
            {
                switch (b.Source)
                {
                    case CoreExportItem e: storeImports.Add(new StoreImport(b.Module, b.Name, e)); break;
                    case LoweredItem l: DefineLowered(b, component.Lowered[l.Index], component); break;
                    case ResourceOpItem r: DefineResourceOp(b, r, component); break;
                    case AdapterItem a: DefineAdapter(b, component.Adapters[a.Index], component); break;
                    case AsyncBuiltinItem x: DefineAsyncBuiltin(b, x, component); break;
                }
            }
            catch (WasmtimeException e)
            {
                throw new ComponentLoadException($"core module {step.Module} import '{b.Module}' '{b.Name}': {e.Message}", e);
            }
        }
        StoreImports = storeImports.ToArray();
        if (StoreImports.Length == 0)
        {
            try { Pre = Base.InstantiatePre(module); }
            catch (WasmtimeException e) { throw new ComponentLoadException($"core module {step.Module} cannot be linked: {e.Message}", e); }
            // Nothing runs while such a module is instantiated, so nothing can suspend: no fiber is needed.
            Synchronous = !hasStart && !_importsAsync;
        }
    }

    private bool _importsAsync;

    /// <summary>Pre-instantiated, no start function, no async import: instantiated on the calling thread.</summary>
    public bool Synchronous { get; }

    public InstantiateStep Step { get; }
    public WasmModule Module { get; }
    public WasmLinker Base { get; }
    public WasmInstancePre? Pre { get; }
    public StoreImport[] StoreImports { get; }

    // Linkers for replay, reused across stores: every store-specific import is redefined (shadowing the previous
    // store's) before each instantiation, so a rented linker never resolves to another store's items. Saves
    // cloning the host definitions per request.
    private readonly System.Collections.Concurrent.ConcurrentBag<WasmLinker> _linkers = [];
    private bool _disposed;

    public WasmLinker RentLinker()
    {
        if (_linkers.TryTake(out var linker)) return linker;
        linker = Base.Clone();
        linker.AllowShadowing = true;
        return linker;
    }

    public void ReturnLinker(WasmLinker linker)
    {
        if (Volatile.Read(ref _disposed)) linker.Dispose();
        else _linkers.Add(linker);
    }

    private void DefineLowered(ImportBinding b, LoweredRuntime lr, Component component)
    {
        if (b.Kind != CoreSort.Func) throw new ComponentLoadException($"core import '{b.Module}' '{b.Name}' is a {b.Kind} but is given a lowered function");
        var fn = lr.Func.Function;
        if (fn.Async is { } asyncImpl)
        {
            _importsAsync = true;
            Base.DefineAsyncFunc(b.Module, b.Name, lr.CoreType, async (info, args, results) =>
            {
                var inst = ComponentInstance.Of(info.Extension, component);
                if (inst.NestedDepth != 0)
                    throw AbiContext.Trap($"{lr.What} (an async host function) was called from inside a nested guest call (realloc or a destructor), which cannot suspend");
                // The context stays bound to this call across the await, until the result is lowered.
                var cx = inst.EnterLowered(lr, info.Context);
                object? result;
                try
                {
                    object?[] hostArgs;
                    try { hostArgs = LiftArgs(cx, lr, args); }
                    catch (ComponentTrapException e) { throw In(lr, "arguments", e); }
                    result = await asyncImpl(inst.HostContext, hostArgs).ConfigureAwait(false);
                }
                catch
                {
                    cx.End();
                    throw;
                }
                // Lowering may call the guest's realloc: do it back on the guest's fiber.
                info.OnCompleted = (ref HostCaller caller, Span<WasmValue> res) =>
                {
                    cx.Store = caller.Context;
                    try { LowerResult(cx, lr, result, args, res); }
                    catch (ComponentTrapException e) { throw In(lr, "result", e); }
                    finally { cx.End(); }
                };
            });
        }
        else
        {
            var syncImpl = fn.Sync ?? throw new ComponentLoadException($"host function {lr.What} has no implementation");
            Base.DefineFunc(b.Module, b.Name, lr.CoreType, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
            {
                var inst = ComponentInstance.Of(caller.Extension, component);
                var cx = inst.EnterLowered(lr, caller.Context);
                cx.BorrowBytes = fn.BorrowsBytes;
                try
                {
                    object?[] hostArgs;
                    try { hostArgs = LiftArgs(cx, lr, args); }
                    catch (ComponentTrapException e) { throw In(lr, "arguments", e); }
                    var result = syncImpl(inst.HostContext, hostArgs);
                    try { LowerResult(cx, lr, result, args, results); }
                    catch (ComponentTrapException e) { throw In(lr, "result", e); }
                }
                finally { cx.End(); }
            });
        }
    }

    // `canon lower async` (CanonicalABI.md canon_lower with opts.async_). Spindle runs only synchronous tasks
    // (async lifts are refused at load), and the spec does not let a synchronous task block before it returns
    // (Concurrency.md "Blocking"; Wasmtime traps "cannot block a synchronous task before returning"). What counts as
    // blocking for a host callee is up to the host, so Spindle's host never blocks: an async host function runs to
    // completion before the call returns (its Task is awaited with the guest's fiber suspended, no thread held, which
    // the guest cannot observe), its result is stored through the return pointer, and the call returns RETURNED with
    // no subtask. That keeps waitable sets consistent with the spec: no event can be pending later.
    private static object?[] LiftArgs(GuestCallContext cx, LoweredRuntime lr, ReadOnlySpan<WasmValue> args) =>
        lr.IsAsyncLowered ? FlatValues.LiftParamsAsyncLowered(cx, lr.Abi, args) : FlatValues.LiftParams(cx, lr.Abi, args);

    private static void LowerResult(GuestCallContext cx, LoweredRuntime lr, object? result, ReadOnlySpan<WasmValue> args, Span<WasmValue> results)
    {
        if (!lr.IsAsyncLowered)
        {
            FlatValues.LowerResult(cx, lr.Abi, result, args, results);
            return;
        }
        FlatValues.StoreResultAsyncLowered(cx, lr.Abi, result, args);
        results[0] = WasmValue.I32(WaitableSet.SubtaskReturned);
    }

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

    /// <summary>Names the host function whose arguments or result failed a canonical ABI check.</summary>
    private static ComponentTrapException In(LoweredRuntime lr, string part, ComponentTrapException e) =>
        new($"{part} of {lr.What}: {e.Message}", e);

    private void DefineAdapter(ImportBinding b, AdapterRuntime ar, Component component)
    {
        if (b.Kind != CoreSort.Func) throw new ComponentLoadException($"core import '{b.Module}' '{b.Name}' is a {b.Kind} but is given a function");
        Base.DefineFunc(b.Module, b.Name, ar.CallerCore, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
            ComponentInstance.Of(caller.Extension, component).CallAdapter(ar, caller.Context, args, results));
    }

    private void DefineResourceOp(ImportBinding b, ResourceOpItem op, Component component)
    {
        var resource = op.Resource;
        var table = op.ComponentInstance;
        var dtor = resource is GuestResourceType g && component.Plan.Destructors.TryGetValue(g, out var d) ? d : null;
        switch (op.Op)
        {
            case CanonKind.ResourceDrop:
                Base.DefineFunc(b.Module, b.Name, DropType, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var inst = ComponentInstance.Of(caller.Extension, component);
                    var e = inst.Tables[table].Remove((uint)args[0].AsI32(), resource);
                    if (!e.Own) { if (e.BorrowScope is { } scope) scope.BorrowCount--; }
                    else if (resource is HostResourceType && e.Rep is IDisposable disposable) disposable.Dispose();
                    else if (dtor is not null && e.Rep is int rep)
                        inst.CallNested(caller.Context, inst.CoreFunc(dtor), [WasmValue.I32(rep)], []);
                });
                break;
            case CanonKind.ResourceNew:
                Base.DefineFunc(b.Module, b.Name, I32ToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var inst = ComponentInstance.Of(caller.Extension, component);
                    results[0] = WasmValue.I32(inst.Tables[table].Add(new HandleEntry(resource, args[0].AsI32(), own: true, borrowScope: null)));
                });
                break;
            case CanonKind.ResourceRep:
                Base.DefineFunc(b.Module, b.Name, I32ToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                {
                    var inst = ComponentInstance.Of(caller.Extension, component);
                    results[0] = WasmValue.I32((int)inst.Tables[table].Get((uint)args[0].AsI32(), resource).Rep);
                });
                break;
        }
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        while (_linkers.TryTake(out var l)) l.Dispose();
        Pre?.Dispose();
        Base.Dispose();
        Module.Dispose();
    }
}

/// <summary>
/// An import of a step that comes from an earlier core instance of the same store, with its names encoded as UTF-8
/// once at load: replay looks up and defines every one of these per request (hundreds for a JS guest).
/// </summary>
internal sealed class StoreImport(string module, string name, CoreExportItem source)
{
    public string Module { get; } = module;
    public string Name { get; } = name;
    public CoreExportItem Source { get; } = source;
    public byte[] ModuleUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(module);
    public byte[] NameUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(name);
    public byte[] ExportUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(source.Name);
}
