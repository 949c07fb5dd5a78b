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
internal sealed partial class StepRuntime : IDisposable
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
            Base.DefineAsyncFunc(b.Module, b.Name, lr.CoreType, (info, args, results) =>
            {
                var inst = ComponentInstance.Of(info.Extension, component);
                if (inst.NestedDepth != 0)
                    throw AbiContext.Trap($"{lr.What} (an async host function) was called from inside a nested guest call (realloc or a destructor), which cannot suspend");
                // The context stays bound to this call across a suspension, until the result is lowered.
                var cx = inst.EnterLowered(lr, info.Context);
                ValueTask<object?> pending;
                try
                {
                    object?[] hostArgs;
                    try { hostArgs = LiftArgs(cx, lr, args); }
                    catch (ComponentTrapException e) { throw In(lr, "arguments", e); }
                    pending = asyncImpl(inst.HostContext, hostArgs);
                }
                catch
                {
                    cx.End();
                    throw;
                }
                if (!pending.IsCompletedSuccessfully) return new ValueTask(LowerWhenDone(info, cx, lr, pending, args));
                // Done at once (a SQLite read, say): still on the guest's fiber, so the result is lowered right here.
                try { LowerResult(cx, lr, pending.Result, args, results); }
                catch (ComponentTrapException e) { throw In(lr, "result", e); }
                finally { cx.End(); }
                return ValueTask.CompletedTask;
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

    /// <summary>
    /// Waits for an async host function that suspended the guest, then lowers its result back on the guest's fiber.
    /// A <see cref="Task"/>, not a value task: the trampoline waits on it as a task, which a value task would wrap.
    /// </summary>
    private static async Task LowerWhenDone(HostCallerInfo info, GuestCallContext cx, LoweredRuntime lr, ValueTask<object?> pending, WasmValue[] args)
    {
        object? result;
        try { result = await pending.ConfigureAwait(false); }
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
