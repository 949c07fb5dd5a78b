using Spindle.Components.Abi;
using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Planning;
using Spindle.Components.Types;
using Spindle.Wasmtime;

namespace Spindle.Components.Runtime;

/// <summary>
/// A loaded component: parsed, type-checked against the host, flattened into an instantiation plan, its core
/// modules compiled (through the artifact cache) and one base linker per core instantiation holding the lowered
/// host functions. Immutable and thread-safe; instantiate it once per store (per request).
/// </summary>
public sealed class Component : IDisposable
{
    private readonly InstantiationPlan _plan;
    private readonly Dictionary<string, ComponentExport[]> _exports;

    internal StepRuntime[] Steps { get; }
    internal LoweredRuntime[] Lowered { get; }

    /// <summary>Distinct <see cref="CallOptions"/> of the lowered functions (each instance resolves each set once).</summary>
    internal int CallOptionSets { get; private init; }
    internal AdapterRuntime[] Adapters { get; private set; } = [];
    internal int ComponentInstanceCount => _plan.ComponentInstanceCount;
    internal InstantiationPlan Plan => _plan;

    /// <summary>
    /// The linear memories named by canon options (where the guest's data lives), each with its warm-up; empty
    /// when the engine has warm-up off.
    /// </summary>
    internal (CoreExportItem Memory, MemoryWarmup Warmup)[] Warmups { get; private set; } = [];

    private Component(InstantiationPlan plan, StepRuntime[] steps, LoweredRuntime[] lowered, Dictionary<string, ComponentExport[]> exports)
    {
        _plan = plan;
        Steps = steps;
        Lowered = lowered;
        _exports = exports;
        Imports = plan.Imports.Select(i => i.Name).ToArray();
    }

    /// <summary>Interface names the component imports, as written in the component.</summary>
    public IReadOnlyList<string> Imports { get; }

    /// <summary>Core instances one instantiation creates (each step of the plan instantiates one core module).</summary>
    public int CoreInstanceCount => _plan.Steps.Count;

    /// <summary>Exported interface names ("" stands for top-level function exports).</summary>
    public IReadOnlyCollection<string> Exports => _exports.Keys;

    /// <summary>All exported functions.</summary>
    public IEnumerable<ComponentExport> ExportedFunctions => _exports.Values.SelectMany(e => e);

    /// <summary>
    /// Loads a component:
    /// 1. parses the binary (a core module or anything else is rejected with <see cref="ComponentLoadException"/>);
    /// 2. resolves its types and binds each imported interface to <paramref name="host"/>, checking every imported
    ///    function's type against the host's declaration;
    /// 3. flattens nested components into a list of core instantiations;
    /// 4. compiles each core module (<see cref="ArtifactCache"/>; <paramref name="progress"/> hears about slow compiles);
    /// 5. defines the lowered host functions and canon resource built-ins once, in one base linker per instantiation.
    /// </summary>
    public static Component Load(WasmEngine engine, ReadOnlySpan<byte> bytes, HostRegistry host, IProgress<string>? progress = null) =>
        Load(engine, bytes, host, progress, stubMissing: false, resettable: false);

    /// <summary>
    /// Loads a component as <see cref="Load(WasmEngine, ReadOnlySpan{byte}, HostRegistry, IProgress{string}?)"/> does,
    /// preparing its core modules so that an instance can be put back into its just-instantiated state after a
    /// call and serve the next one (<see cref="ComponentInstance.TryReset"/>): each module gets extra exports for
    /// its memories and mutable globals. When some module's code can change state the host cannot restore (tables,
    /// passive segments), the component loads as usual and <see cref="ResetBlocker"/> says why.
    /// Resets are cheapest when the instance's memories were mapped afresh (see <see cref="MemorySnapshot"/>).
    /// </summary>
    public static Component LoadResettable(WasmEngine engine, ReadOnlySpan<byte> bytes, HostRegistry host, IProgress<string>? progress = null) =>
        Load(engine, bytes, host, progress, stubMissing: false, resettable: true);

    /// <summary>
    /// Loads a core module built against component-model interfaces but never wrapped in a component (the modules
    /// of Spin's first SDKs): <paramref name="binding"/> says which host function serves each import and which
    /// exports are lifted as which functions, and the module gets exactly the lifting and lowering (canonical ABI,
    /// its own memory and realloc) a component declaring those would give it. Imports of
    /// <see cref="CoreModuleBinding.CoreHostModules"/> are defined by <see cref="CoreModuleBinding.DefineCoreHost"/>.
    /// Instances are never reused (no reset point): each serves one call sequence, as a fresh one.
    /// </summary>
    public static Component LoadCoreModule(WasmEngine engine, ReadOnlySpan<byte> module, HostRegistry host, CoreModuleBinding binding, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(binding);
        var plan = CoreModulePlanner.Build(module.ToArray(), host, binding);
        return Build(engine, plan, progress, resettable: false, binding.DefineCoreHost);
    }

    /// <summary>The export names of a core module (to tell which conventions it was built with before binding it).</summary>
    public static IReadOnlySet<string> CoreModuleExports(ReadOnlySpan<byte> module) => CoreModuleInfo.Read(module.ToArray(), 0).Exports;

    /// <summary>Defines the core-level host imports (<see cref="CoreHostItem"/>) on a step's linker.</summary>
    internal Action<WasmLinker, WasmModule>? CoreHost { get; private init; }

    /// <summary>As the public Load; <paramref name="stubMissing"/> adds trapping stubs for imports <paramref name="host"/> lacks.</summary>
    internal static Component Load(WasmEngine engine, ReadOnlySpan<byte> bytes, HostRegistry host, IProgress<string>? progress, bool stubMissing, bool resettable = false)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(host);
        var ast = ComponentParser.Parse(bytes.ToArray());
        var plan = Planner.Build(ast, host, stubMissing);
        return Build(engine, plan, progress, resettable);
    }

    /// <summary>Null when instances can be reset for reuse (<see cref="ComponentInstance.TryReset"/>); otherwise why not.</summary>
    public string? ResetBlocker { get; private init; } = "the component was not loaded for reuse";

    /// <summary>Per core module: the exports that reach its memories and mutable globals (set when <see cref="ResetBlocker"/> is null).</summary>
    internal ResettableModule[]? ResetModules { get; private init; }

    // The distinct reset snapshots taken so far, per memory (in CaptureResetPoint's order): a few at most, since
    // instantiation is nearly always deterministic. Beyond the limit each instance keeps its own copy.
    private readonly List<List<MemorySnapshot>> _snapshots = [];
    private const int SharedSnapshotsPerMemory = 4;

    /// <summary>Distinct reset snapshots kept per memory (how far instances of this component start identical).</summary>
    internal int[] SharedSnapshotCounts()
    {
        lock (_snapshots) return _snapshots.Select(l => l.Count).ToArray();
    }

    /// <summary>A snapshot of memory number <paramref name="index"/> of a new instance, shared with earlier instances when identical.</summary>
    internal MemorySnapshot ShareSnapshot(int index, WasmMemory memory, WasmStore store)
    {
        MemorySnapshot[] known;
        lock (_snapshots)
        {
            while (_snapshots.Count <= index) _snapshots.Add([]);
            known = _snapshots[index].ToArray();
        }
        var snapshot = MemorySnapshot.Capture(memory, store, known);
        if (Array.IndexOf(known, snapshot) >= 0) return snapshot;
        lock (_snapshots)
            if (_snapshots[index].Count < SharedSnapshotsPerMemory) _snapshots[index].Add(snapshot);
        return snapshot;
    }

    /// <summary>Parses a component and lists its imports and exports without binding or compiling anything.</summary>
    public static ComponentSummary Inspect(ReadOnlySpan<byte> bytes) => ComponentSummary.Read(bytes.ToArray());

    private static Component Build(WasmEngine engine, InstantiationPlan plan, IProgress<string>? progress, bool resettable,
        Action<WasmLinker, WasmModule>? coreHost = null)
    {
        ResettableModule[]? resetModules = null;
        string? resetBlocker = "the component was not loaded for reuse";
        if (resettable)
        {
            resetModules = new ResettableModule[plan.Modules.Count];
            resetBlocker = null;
            for (var i = 0; i < resetModules.Length && resetBlocker is null; i++)
            {
                if (ResettableModule.TryCreate(plan.Modules[i].Bytes.Span, out var why) is { } m) resetModules[i] = m;
                else resetBlocker = $"core module {i}: {why}";
            }
            if (resetBlocker is not null) resetModules = null;
        }

        // A JS guest lowers hundreds of host functions with a handful of distinct option sets: instances resolve
        // memory and realloc per set, not per function.
        var optionSets = new Dictionary<(StringEncoding, CoreItem?, CoreItem?, int), CallOptions>();
        var lowered = new LoweredRuntime[plan.Lowered.Count];
        for (var i = 0; i < lowered.Length; i++)
        {
            var f = plan.Lowered[i];
            var key = (f.Options.Encoding, f.Options.Memory, f.Options.Realloc, f.ComponentInstance);
            if (!optionSets.TryGetValue(key, out var options))
                optionSets[key] = options = new CallOptions(optionSets.Count, f.Options.Encoding, f.Options.Memory, f.Options.Realloc, f.ComponentInstance);
            lowered[i] = new LoweredRuntime(f, options);
        }

        var modules = new WasmModule[plan.Modules.Count];
        for (var i = 0; i < modules.Length; i++)
        {
            var moduleBytes = resetModules is null ? plan.Modules[i].Bytes.Span : resetModules[i].Bytes;
            try { modules[i] = ArtifactCache.LoadOrCompile(engine, moduleBytes, progress); }
            catch (WasmtimeException e) { throw new ComponentLoadException($"core module {i} of the component does not compile: {e.Message}", e); }
        }

        var checker = new CoreSignatureChecker(plan, modules);
        foreach (var lr in lowered)
            checker.CheckOptions(lr.Func.Options, null, $"import {lr.What}");

        foreach (var (resource, dtor) in plan.Destructors)
            checker.CheckFunc(dtor, new WasmFuncType([WasmValueKind.I32], []), $"destructor of {resource}");

        var exports = new Dictionary<string, List<ComponentExport>>(StringComparer.Ordinal);
        var liftAbis = new Dictionary<LiftedFunc, FuncAbi>();
        foreach (var (iface, name, lifted) in plan.Exports)
        {
            if (lifted.CoreFunc is not CoreExportItem)
                throw new ComponentLoadException($"export {iface}#{name} lifts a host function directly, which is not supported");
            if (!liftAbis.TryGetValue(lifted, out var abi)) liftAbis[lifted] = abi = new FuncAbi(lifted.Type);
            CheckOptions(abi, lifted.Options, $"export {iface}#{name}");
            var coreType = FlatValues.CoreType(abi.CoreParams(lowered: false), abi.CoreResults(lowered: false));
            checker.CheckFunc(lifted.CoreFunc, coreType, $"the core function lifted as {iface}#{name}");
            checker.CheckOptions(lifted.Options, coreType, $"export {iface}#{name}");
            if (!exports.TryGetValue(iface, out var list)) exports[iface] = list = [];
            list.Add(new ComponentExport(iface, name, lifted, abi));
        }

        var adapters = new AdapterRuntime[plan.Adapters.Count];
        for (var i = 0; i < adapters.Length; i++)
        {
            var a = plan.Adapters[i];
            var abi = new FuncAbi(a.Callee.Type);
            var what = $"cross-component call to {TypePrinter.Print(a.Callee.Type)}";
            if (a.Callee.CoreFunc is not CoreExportItem)
                throw new ComponentLoadException($"{what}: the callee lifts a host function directly, which is not supported");
            CheckOptions(abi, a.Callee.Options, what + " (callee)");
            CheckOptions(abi, a.CallerOptions, what + " (caller)");
            var calleeCore = FlatValues.CoreType(abi.CoreParams(lowered: false), abi.CoreResults(lowered: false));
            checker.CheckFunc(a.Callee.CoreFunc, calleeCore, what + " (callee)");
            checker.CheckOptions(a.Callee.Options, calleeCore, what + " (callee)");
            checker.CheckOptions(a.CallerOptions, null, what + " (caller)");
            adapters[i] = new AdapterRuntime(a, abi, calleeCore, what);
        }

        var component = new Component(plan, new StepRuntime[plan.Steps.Count], lowered,
            exports.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal))
        {
            Adapters = adapters,
            CoreHost = coreHost,
            CallOptionSets = optionSets.Count,
            ResetBlocker = resetBlocker,
            ResetModules = resetModules,
            Warmups = !engine.Options.WarmUpMemories ? [] : plan.Lowered.Select(l => l.Options.Memory)
                .Concat(plan.Lifted.Select(l => l.Options.Memory)).OfType<CoreExportItem>().Distinct()
                .Select(m => (m, new MemoryWarmup())).ToArray(),
        };
        for (var i = 0; i < plan.Steps.Count; i++)
            component.Steps[i] = new StepRuntime(plan.Steps[i], modules[plan.Steps[i].Module],
                plan.Modules[plan.Steps[i].Module].HasStart, engine, component);
        return component;
    }

    internal static void CheckOptions(FuncAbi abi, ResolvedOptions options, string what)
    {
        if (abi.NeedsMemory && options.Memory is null)
            throw new ComponentLoadException($"{what} ({TypePrinter.Print(abi.Type)}) passes values through linear memory but its canon options name no memory");
        if (options.Realloc is not (null or CoreExportItem) || options.PostReturn is not (null or CoreExportItem) || options.Memory is not (null or CoreExportItem))
            throw new ComponentLoadException($"{what}: canon options must name core exports (memory, realloc, post-return)");
    }

    /// <summary>
    /// The exported function <paramref name="funcName"/> of interface <paramref name="interfaceName"/>; the
    /// interface version may differ in patch (0.2.x) from the one the component exports. Null when absent.
    /// </summary>
    public ComponentExport? FindExport(string interfaceName, string funcName)
    {
        ArgumentNullException.ThrowIfNull(interfaceName);
        ArgumentNullException.ThrowIfNull(funcName);
        if (_exports.TryGetValue(interfaceName, out var exact)) return Find(exact, funcName);
        var (name, version) = HostRegistry.SplitName(interfaceName);
        foreach (var (key, funcs) in _exports)
        {
            var (n, v) = HostRegistry.SplitName(key);
            if (n == name && (version is null || v is null || HostRegistry.Compatible(v, version)))
                return Find(funcs, funcName);
        }
        return null;
    }

    private static ComponentExport? Find(ComponentExport[] funcs, string name)
    {
        foreach (var f in funcs) if (f.Name == name) return f;
        return null;
    }

    /// <summary>
    /// Instantiates the component in <paramref name="store"/>: replays the plan (each core module instantiated with
    /// the async API, host functions seeing <paramref name="storeData"/> as <see cref="HostCallContext.StoreData"/>).
    /// </summary>
    public async ValueTask<ComponentInstance> InstantiateAsync(WasmStore store, object? storeData, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var instance = new ComponentInstance(this, store, storeData, ct);
        try
        {
            await instance.InstantiateCoreAsync(ct).ConfigureAwait(false);
            return instance;
        }
        catch
        {
            instance.Dispose();
            throw;
        }
    }

    /// <summary>Releases the base linkers and compiled modules.</summary>
    public void Dispose()
    {
        foreach (var s in Steps) s?.Dispose();
    }
}

/// <summary>
/// Checks, at load, the core signatures the runtime relies on: lifted functions, realloc and post-return
/// (realloc runs through an unchecked nested call, so its type must be right) and that memories are memories.
/// </summary>
internal sealed class CoreSignatureChecker(InstantiationPlan plan, WasmModule[] modules)
{
    private static readonly WasmFuncType ReallocType = new([WasmValueKind.I32, WasmValueKind.I32, WasmValueKind.I32, WasmValueKind.I32], [WasmValueKind.I32]);

    private WasmExport Export(CoreExportItem e, string what)
    {
        var module = modules[plan.Steps[e.Step].Module];
        foreach (var x in module.Exports)
            if (x.Name == e.Name) return x;
        throw new ComponentLoadException($"{what}: core module {plan.Steps[e.Step].Module} has no export '{e.Name}'");
    }

    public void CheckFunc(CoreItem item, WasmFuncType expected, string what)
    {
        if (item is not CoreExportItem e) return;
        var x = Export(e, what);
        if (x.Kind != WasmExternKind.Func || x.FuncType is null)
            throw new ComponentLoadException($"{what}: core export '{e.Name}' is not a function");
        if (!x.FuncType.Equals(expected))
            throw new ComponentLoadException($"{what}: core function '{e.Name}' has type {x.FuncType}, expected {expected}");
    }

    public void CheckOptions(ResolvedOptions o, WasmFuncType? lifted, string what)
    {
        if (o.Memory is CoreExportItem m && Export(m, what).Kind != WasmExternKind.Memory)
            throw new ComponentLoadException($"{what}: canon option memory names core export '{m.Name}', which is not a memory");
        if (o.Realloc is { } r) CheckFunc(r, ReallocType, $"{what} (realloc)");
        if (o.PostReturn is { } p && lifted is not null)
            CheckFunc(p, new WasmFuncType(lifted.Results, []), $"{what} (post-return)");
    }
}

/// <summary>A cross-component call's precomputed shape (caller and callee share the function type).</summary>
internal sealed class AdapterRuntime(AdapterFunc func, FuncAbi abi, WasmFuncType calleeCore, string what)
{
    public AdapterFunc Func { get; } = func;
    public FuncAbi Abi { get; } = abi;
    public WasmFuncType CallerCore { get; } = FlatValues.CoreType(abi.CoreParams(lowered: true), abi.CoreResults(lowered: true));
    public WasmValueKind[] CalleeResultKinds { get; } = calleeCore.Results.ToArray();
    public string What { get; } = what;
}

/// <summary>A lowered host function's precomputed call shape.</summary>
internal sealed class LoweredRuntime
{
    public LoweredRuntime(LoweredFunc func, CallOptions options)
    {
        Func = func;
        Options = options;
        Abi = new FuncAbi(func.Type);
        What = $"{func.Interface}#{func.Function.Name}";
        if (func.Options.Async)
        {
            var (ps, rs) = Abi.AsyncLowerCore();
            CoreType = FlatValues.CoreType(ps, rs);
            if (Abi.NeedsMemoryAsync && func.Options.Memory is null)
                throw new ComponentLoadException($"import {What} ({TypePrinter.Print(func.Type)}) is lowered async, which passes values through linear memory, but its canon options name no memory");
        }
        else CoreType = FlatValues.CoreType(Abi.CoreParams(lowered: true), Abi.CoreResults(lowered: true));
        Component.CheckOptions(Abi, func.Options, $"import {What}");
    }

    /// <summary>Lowered with <c>canon lower async</c>: returns a subtask status, results go through a pointer.</summary>
    public bool IsAsyncLowered => Func.Options.Async;

    public LoweredFunc Func { get; }
    public CallOptions Options { get; }
    public FuncAbi Abi { get; }
    public WasmFuncType CoreType { get; }
    public string What { get; }
}

/// <summary>What a call context needs of a lowered function's canon options, and its component instance (handle table).</summary>
internal sealed record CallOptions(int Index, StringEncoding Encoding, CoreItem? Memory, CoreItem? Realloc, int ComponentInstance);
