using Spindle.Components.Abi;
using Spindle.Components.Host;
using Spindle.Components.Planning;
using Spindle.Wasmtime;

namespace Spindle.Components.Runtime;

/// <summary>
/// A component instantiated in one store: its core instances, one handle table per (nested) component instance,
/// and the per-call machinery. Not thread-safe (a store runs one call at a time). Dispose it with the store:
/// every host object the guest still owns is disposed.
/// </summary>
public sealed class ComponentInstance : IDisposable
{
    private readonly WasmInstance[] _cores;
    private int _instantiated;
    private bool _disposed;

    // Canon options of the lowered functions resolved per instance (one slot per distinct set), lazily: a lowered
    // function may name the memory of a core instance created after the one that imports it.
    private readonly (bool Done, WasmMemory? Memory, WasmFunc? Realloc)[] _options;

    // One reusable call context per component instance, created by the first host call that needs it.
    private readonly GuestCallContext?[] _contexts;

    private readonly (bool Done, WasmFunc Func, WasmMemory? Memory, WasmFunc? Realloc, WasmFunc? PostReturn)[] _lifted;

    // Whether a start function called a host import while the core instances were being created.
    private bool _hostCalledWhileInstantiating;

    internal ComponentInstance(Component component, WasmStore store, object? storeData, CancellationToken ct)
    {
        Component = component;
        Store = store;
        StoreData = storeData;
        HostContext = new HostCallContext(storeData, ct);
        _cores = new WasmInstance[component.Steps.Length];
        Tables = new HandleTable[component.ComponentInstanceCount];
        for (var i = 0; i < Tables.Length; i++) Tables[i] = new HandleTable();
        _options = new (bool, WasmMemory?, WasmFunc?)[component.CallOptionSets];
        _contexts = new GuestCallContext?[component.ComponentInstanceCount];
        _lifted = new (bool, WasmFunc, WasmMemory?, WasmFunc?, WasmFunc?)[component.Plan.Lifted.Count];
        if (store.Extension is ComponentInstance same && ReferenceEquals(same.Component, component)
            || store.Extension is ComponentInstance[] all && Array.Exists(all, c => ReferenceEquals(c.Component, component)))
            throw new InvalidOperationException("a store holds at most one instance of a given component; use a new store");
        switch (store.Extension)
        {
            case null: store.Extension = this; break;
            case ComponentInstance other: store.Extension = new[] { other, this }; break;
            case ComponentInstance[] many: store.Extension = (ComponentInstance[])[.. many, this]; break;
            default: throw new InvalidOperationException("the store's extension slot is used by something else");
        }
    }

    /// <summary>The component this is an instance of.</summary>
    public Component Component { get; }

    /// <summary>The store it lives in.</summary>
    public WasmStore Store { get; }

    /// <summary>The object given to <see cref="Component.InstantiateAsync"/>.</summary>
    public object? StoreData { get; }

    internal HostCallContext HostContext { get; private set; }

    /// <summary>
    /// Depth of nested guest calls made from host code on the fiber (realloc, destructors). While it is non-zero
    /// managed frames sit on the fiber, so nothing may suspend it: async host functions trap instead.
    /// </summary>
    internal int NestedDepth;

    /// <summary>Calls a guest function re-entrantly on the current fiber (from inside a host function).</summary>
    internal void CallNested(StoreContext context, WasmFunc func, ReadOnlySpan<WasmValue> args, Span<WasmValue> results)
    {
        NestedDepth++;
        try { NestedCall.Call(context, func, args, results); }
        finally { NestedDepth--; }
    }

    internal HandleTable[] Tables { get; }

    internal static ComponentInstance Of(object? extension, Component component)
    {
        if (extension is ComponentInstance ci && ReferenceEquals(ci.Component, component)) return ci;
        if (extension is ComponentInstance[] many)
            foreach (var c in many) if (ReferenceEquals(c.Component, component)) return c;
        throw new InvalidOperationException("host function called outside an instance of its component");
    }

    internal async Task InstantiateCoreAsync(CancellationToken ct)
    {
        var steps = Component.Steps;
        for (var i = 0; i < steps.Length; i++)
        {
            ct.ThrowIfCancellationRequested();
            var step = steps[i];
            try
            {
                if (step.Synchronous && step.Pre!.TryInstantiate(Store, out var instance))
                {
                    _cores[i] = instance;
                }
                else if (step.Pre is { } pre)
                {
                    _cores[i] = await pre.InstantiateAsync(Store).ConfigureAwait(false);
                }
                else
                {
                    var linker = step.RentLinker();
                    try
                    {
                        foreach (var import in step.StoreImports)
                            linker.Define(Store, import.ModuleUtf8, import.NameUtf8, ResolveImport(import));
                        _cores[i] = await linker.InstantiateAsync(Store, step.Module).ConfigureAwait(false);
                    }
                    catch
                    {
                        linker.Dispose(); // may hold a half-defined set of this store's items
                        throw;
                    }
                    step.ReturnLinker(linker);
                }
            }
            catch (WasmTrapException e)
            {
                throw new ComponentTrapException($"instantiating core module {step.Step.Module} trapped: {e.Message}", e);
            }
            _instantiated = i + 1;
        }
        foreach (var (item, warmup) in Component.Warmups)
            if (warmup.HasWork && Resolve(item).Memory is { } memory) warmup.Prefault(memory, Store);
    }

    private WasmExtern Resolve(CoreExportItem item)
    {
        if (item.Step >= _instantiated)
            throw AbiContext.Trap($"core export '{item.Name}' of core instance {item.Step} is used before that instance exists");
        return _cores[item.Step].GetExport(Store, item.Name)
            ?? throw AbiContext.Trap($"core instance {item.Step} has no export '{item.Name}'");
    }

    // Resolve with the export name pre-encoded at load (no per-request encoding); same checks and messages.
    private WasmExtern ResolveImport(StoreImport import)
    {
        var item = import.Source;
        if (item.Step >= _instantiated)
            throw AbiContext.Trap($"core export '{item.Name}' of core instance {item.Step} is used before that instance exists");
        return _cores[item.Step].GetExport(Store, import.ExportUtf8)
            ?? throw AbiContext.Trap($"core instance {item.Step} has no export '{item.Name}'");
    }

    /// <summary>
    /// A call context for a built-in that lowers values into the guest (<c>stream.read</c>, <c>future.read</c>)
    /// with its own canon options, resolved per call (these calls are rare next to lowered imports). The caller must
    /// <see cref="GuestCallContext.End"/> it.
    /// </summary>
    internal GuestCallContext EnterBuiltin(AsyncBuiltinItem x, StoreContext store, string what)
    {
        var o = x.Options!;
        ref var cached = ref _contexts[x.ComponentInstance];
        cached ??= new GuestCallContext(this, Tables[x.ComponentInstance]);
        var cx = cached.InUse ? new GuestCallContext(this, Tables[x.ComponentInstance]) : cached;
        return cx.Begin(store, what, Memory(o.Memory), Func(o.Realloc), o.Encoding);
    }

    /// <summary>The memory a built-in's canon options name (resolved per call: built-ins are rare).</summary>
    internal WasmMemory BuiltinMemory(CoreItem item) => Memory(item) ?? throw AbiContext.Trap("the built-in's memory is not available");

    private WasmMemory? Memory(CoreItem? item) => item is CoreExportItem e
        ? Resolve(e).Memory ?? throw AbiContext.Trap($"core export '{e.Name}' is not a memory") : null;

    private WasmFunc? Func(CoreItem? item) => item is CoreExportItem e
        ? Resolve(e).Func ?? throw AbiContext.Trap($"core export '{e.Name}' is not a function") : null;

    internal (WasmFunc Func, WasmMemory? Memory, WasmFunc? Realloc, WasmFunc? PostReturn) LiftedSlot(LiftedFunc lifted)
    {
        ref var slot = ref _lifted[lifted.Index];
        if (!slot.Done)
            slot = (true, Func(lifted.CoreFunc)!.Value, Memory(lifted.Options.Memory), Func(lifted.Options.Realloc), Func(lifted.Options.PostReturn));
        return (slot.Func, slot.Memory, slot.Realloc, slot.PostReturn);
    }

    /// <summary>
    /// A cross-component call, on the caller's fiber: lift the arguments from the caller, lower them into the
    /// callee, call the callee's core function as a nested call, lift its result, run its post-return, check its
    /// borrows, and lower the result into the caller.
    /// </summary>
    internal void CallAdapter(AdapterRuntime ar, StoreContext context, ReadOnlySpan<WasmValue> args, Span<WasmValue> results)
    {
        var a = ar.Func;
        var callerOptions = a.CallerOptions;
        var caller = new GuestCallContext(this, Tables[a.CallerInstance])
            .Begin(context, ar.What, Memory(callerOptions.Memory), Func(callerOptions.Realloc), callerOptions.Encoding);
        var (func, memory, realloc, postReturn) = LiftedSlot(a.Callee);
        var callee = new GuestCallContext(this, Tables[a.Callee.ComponentInstance])
            .Begin(context, ar.What, memory, realloc, a.Callee.Options.Encoding);
        try
        {
            var values = FlatValues.LiftParams(caller, ar.Abi, args);
            var core = FlatValues.LowerParams(callee, ar.Abi, values);
            var calleeResults = new WasmValue[ar.CalleeResultKinds.Length];
            for (var i = 0; i < calleeResults.Length; i++) calleeResults[i] = WasmValue.Default(ar.CalleeResultKinds[i]);
            CallNested(context, func, core, calleeResults);
            var value = FlatValues.LiftResult(callee, ar.Abi, calleeResults);
            if (postReturn is { } post) CallNested(context, post, calleeResults, []);
            if (callee.BorrowCount != 0)
                throw AbiContext.Trap($"{ar.What}: borrow handles still remain at the end of the call ({callee.BorrowCount} not dropped)");
            FlatValues.LowerResult(caller, ar.Abi, value, args, results);
        }
        finally { caller.ReleaseLends(); }
    }

    internal WasmFunc CoreFunc(CoreItem item) => Func(item) ?? throw AbiContext.Trap("core function is not available");

    /// <summary>
    /// The context for a call of host import <paramref name="lr"/>; the caller must <see cref="GuestCallContext.End"/>
    /// it. The cached context of the component instance is busy when a nested guest call (realloc, a destructor)
    /// reached another import, or an async import holds it across an await: then a fresh one serves.
    /// </summary>
    internal GuestCallContext EnterLowered(LoweredRuntime lr, StoreContext store)
    {
        // A start function calling the host: what it got (a random seed, the time...) is in the state a reset
        // would return to, so every later request would see it again (CaptureResetPoint refuses).
        if (_instantiated < _cores.Length) _hostCalledWhileInstantiating = true;
        var o = lr.Options;
        ref var resolved = ref _options[o.Index];
        if (!resolved.Done) resolved = (true, Memory(o.Memory), Func(o.Realloc));
        ref var cached = ref _contexts[o.ComponentInstance];
        cached ??= new GuestCallContext(this, Tables[o.ComponentInstance]);
        var cx = cached.InUse ? new GuestCallContext(this, Tables[o.ComponentInstance]) : cached;
        return cx.Begin(store, lr.What, resolved.Memory, resolved.Realloc, o.Encoding);
    }

    /// <summary>
    /// Calls an exported function:
    /// 1. lowers the arguments (host objects passed as own/borrow become handles in the guest's table);
    /// 2. calls the lifted core function on a fiber (async host functions it reaches are awaited, not blocked on);
    /// 3. lifts the result, then runs the post-return function if the component has one;
    /// 4. ends the call's borrow scope: a borrow handle the guest did not drop is a trap.
    /// Guest traps and canonical ABI violations throw <see cref="ComponentTrapException"/>; the store is then unusable.
    /// </summary>
    public async ValueTask<object?> CallAsync(ComponentExport export, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(export);
        ArgumentNullException.ThrowIfNull(args);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var index = export.Lifted.Index;
        if (index >= _lifted.Length || !ReferenceEquals(Component.Plan.Lifted[index], export.Lifted))
            throw new ArgumentException($"export {export} does not belong to this component", nameof(export));
        var lifted = export.Lifted;
        var (func, memory, realloc, postReturn) = LiftedSlot(lifted);
        // Not shared with host imports: borrows lent to the guest count against it for the whole call.
        var cx = new GuestCallContext(this, Tables[lifted.ComponentInstance])
            .Begin(Store, export.ToString(), memory, realloc, lifted.Options.Encoding);

        cx.OffFiberStore = Store;
        WasmValue[] core;
        try { core = FlatValues.LowerParams(cx, export.Abi, args); }
        catch (WasmtimeException e) { throw new ComponentTrapException($"{export.InterfaceName}#{export.Name}: realloc failed: {e.Message}", e); }
        finally { cx.OffFiberStore = null; }
        WasmValue[] results;
        try
        {
            results = await func.CallAsync(Store, core, export.CoreResultCount).ConfigureAwait(false);
        }
        catch (WasmtimeException e)
        {
            throw new ComponentTrapException($"{export.InterfaceName}#{export.Name}: {e.Message}", e);
        }
        var value = FlatValues.LiftResult(cx, export.Abi, results);
        if (postReturn is { } post)
        {
            try { await post.CallAsync(Store, results, 0).ConfigureAwait(false); }
            catch (WasmtimeException e) { throw new ComponentTrapException($"post-return of {export.InterfaceName}#{export.Name}: {e.Message}", e); }
        }
        if (cx.BorrowCount != 0)
            throw new ComponentTrapException($"{export.InterfaceName}#{export.Name}: borrow handles still remain at the end of the call ({cx.BorrowCount} not dropped)");
        foreach (var (item, warmup) in Component.Warmups)
            if (warmup.Learning && Resolve(item).Memory is { } learned) warmup.Learn(learned, Store);
        return value;
    }

    // What host functions see between a reset and the next Rebind: nothing of the previous request.
    private static readonly HostCallContext Detached = new(null, CancellationToken.None);

    // The state CaptureResetPoint recorded, which TryReset returns to.
    private (WasmGlobal Global, WasmValue Value)[]? _globalsAtStart;
    private (WasmMemory Memory, MemorySnapshot Snapshot)[]? _memoriesAtStart;

    /// <summary>
    /// Records the instance's state (memories and mutable globals of every core instance) for
    /// <see cref="TryReset"/>. Call it right after instantiation, before any call. The component must have been
    /// loaded with <see cref="Component.LoadResettable"/> and have no <see cref="Component.ResetBlocker"/>.
    /// False, recording nothing, when instantiation ran guest code that reached the host or created handles (a
    /// start function): host objects cannot be put back, and what a host call returned (a random seed from
    /// <c>wasi:random</c>, the time) would be returned to by every reset, so that each request on the instance
    /// would see the same "random" state; such an instance serves one call only, as a fresh one would.
    /// </summary>
    public bool CaptureResetPoint()
    {
        var modules = Component.ResetModules ?? throw new InvalidOperationException($"instances of this component cannot be reset: {Component.ResetBlocker}");
        if (_hostCalledWhileInstantiating || !Array.TrueForAll(Tables, t => t.NeverUsed)) return false;
        var globals = new List<(WasmGlobal, WasmValue)>();
        var memories = new List<(WasmMemory, MemorySnapshot)>();
        for (var i = 0; i < _cores.Length; i++)
        {
            var module = modules[Component.Steps[i].Step.Module];
            foreach (var name in module.GlobalExports)
            {
                var global = _cores[i].GetExport(Store, name)?.Global ?? throw new InvalidOperationException($"core instance {i} lacks export {name}");
                globals.Add((global, global.Get(Store)));
            }
            foreach (var name in module.MemoryExports)
            {
                var memory = _cores[i].GetExport(Store, name)?.Memory ?? throw new InvalidOperationException($"core instance {i} lacks export {name}");
                memories.Add((memory, Component.ShareSnapshot(memories.Count, memory, Store)));
            }
        }
        _globalsAtStart = globals.ToArray();
        _memoriesAtStart = memories.ToArray();
        return true;
    }

    /// <summary>
    /// Puts the instance back into the state <see cref="CaptureResetPoint"/> recorded, so that its next call runs
    /// exactly as on a fresh instance: every host object the guest still owns is disposed, the handle tables
    /// start empty, memories get back the pages the guest wrote and globals their values, and the store's data is
    /// cleared until <see cref="Rebind"/>. Only after a call that returned normally (a trap leaves the store
    /// unusable). False when the instance cannot be reused (no reset point, a memory grew): dispose it and its
    /// store then.
    /// </summary>
    public bool TryReset()
    {
        if (_disposed || _globalsAtStart is not { } globals || _memoriesAtStart is not { } memories || NestedDepth != 0) return false;
        // The cached call contexts stay: a call that returned left them unused, and they refer to these same tables.
        foreach (var table in Tables) table.Reset();
        Store.Data = null;
        HostContext = Detached;
        foreach (var (memory, snapshot) in memories)
            if (!snapshot.TryRestore(memory, Store)) return false;
        foreach (var (global, value) in globals) global.Set(Store, value);
        return true;
    }

    /// <summary>Host functions see <paramref name="storeData"/> and <paramref name="cancellation"/> from now on (the next request's).</summary>
    public void Rebind(object? storeData, CancellationToken cancellation)
    {
        Store.Data = storeData;
        HostContext = new HostCallContext(storeData, cancellation);
    }

    /// <summary>Disposes every host object the guest still owns and detaches from the store.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in Tables) t.DisposeAll();
        switch (Store.Extension)
        {
            case ComponentInstance ci when ReferenceEquals(ci, this): Store.Extension = null; break;
            case ComponentInstance[] many: Store.Extension = many.Where(m => !ReferenceEquals(m, this)).ToArray(); break;
        }
    }
}
