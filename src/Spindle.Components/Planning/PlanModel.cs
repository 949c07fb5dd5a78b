using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Types;

namespace Spindle.Components.Planning;

// The instantiation plan: what a component needs at run time, computed once per component and replayed per
// store. Every core item is resolved down to "export X of core instance step N" or a host-side function.

/// <summary>A core definition (func, memory, table, global) as the plan sees it.</summary>
internal abstract record CoreItem;

/// <summary>Export <paramref name="Name"/> of the core instance created by step <paramref name="Step"/>.</summary>
internal sealed record CoreExportItem(int Step, string Name, CoreSort Kind) : CoreItem;

/// <summary>A host function lowered with <c>canon lower</c>: index into <see cref="InstantiationPlan.Lowered"/>.</summary>
internal sealed record LoweredItem(int Index) : CoreItem;

/// <summary><c>canon resource.new/drop/rep</c> for a resource type, acting on a component instance's handle table.</summary>
internal sealed record ResourceOpItem(CanonKind Op, ResourceType Resource, int ComponentInstance) : CoreItem;

/// <summary>
/// A core function the embedder defines on the module's linker itself (<see cref="Runtime.CoreModuleBinding.DefineCoreHost"/>),
/// such as WASI preview1 for a core module: no canonical ABI in between.
/// </summary>
internal sealed record CoreHostItem : CoreItem
{
    public static readonly CoreHostItem Instance = new();
}

/// <summary>A function lifted by one component instance and lowered into another: index into <see cref="InstantiationPlan.Adapters"/>.</summary>
internal sealed record AdapterItem(int Index) : CoreItem;

/// <summary>Canon options with core indices resolved to plan items; <see cref="Async"/>: <c>canon lower ... async</c>.</summary>
internal sealed record ResolvedOptions(StringEncoding Encoding, CoreItem? Memory, CoreItem? Realloc, CoreItem? PostReturn, bool Async = false);

/// <summary>
/// A component-model async built-in (<c>waitable-set.new/wait/poll/drop</c>, <c>waitable.join</c>,
/// <c>subtask.drop/cancel</c>, the reading side of streams and futures) acting on a component instance's handle
/// table; <paramref name="Memory"/> is where <c>wait</c>/<c>poll</c> write the event, <paramref name="Type"/> the
/// stream or future type of a stream/future built-in, <paramref name="Options"/> the canon options of a read.
/// </summary>
internal sealed record AsyncBuiltinItem(CanonKind Op, CoreItem? Memory, int ComponentInstance, ValType? Type = null, ResolvedOptions? Options = null) : CoreItem;

/// <summary>A host function lowered into core wasm.</summary>
internal sealed record LoweredFunc(int Index, HostInterface Interface, HostFunction Function, FuncType Type, ResolvedOptions Options, int ComponentInstance);

/// <summary>A core function lifted into a component function.</summary>
internal sealed record LiftedFunc(int Index, CoreItem CoreFunc, FuncType Type, ResolvedOptions Options, int ComponentInstance);

/// <summary>
/// A cross-component call (the spec's fused adapter): values are lifted from the caller with its options and
/// lowered into the callee with the callee's, through the host representation.
/// </summary>
internal sealed record AdapterFunc(int Index, LiftedFunc Callee, ResolvedOptions CallerOptions, int CallerInstance);

/// <summary>One import of a core module and where it comes from.</summary>
internal sealed record ImportBinding(string Module, string Name, CoreSort Kind, CoreItem Source);

/// <summary>Instantiate core module <paramref name="Module"/> with these imports (in the module's import order).</summary>
internal sealed record InstantiateStep(int Index, int Module, ImportBinding[] Imports);

/// <summary>The flattened component.</summary>
internal sealed class InstantiationPlan
{
    public List<CoreModuleInfo> Modules { get; } = [];
    public List<InstantiateStep> Steps { get; } = [];
    public List<LoweredFunc> Lowered { get; } = [];
    public List<LiftedFunc> Lifted { get; } = [];
    public List<AdapterFunc> Adapters { get; } = [];
    public int ComponentInstanceCount { get; set; }

    /// <summary>Destructors of component-defined resources (called when an owning handle is dropped).</summary>
    public Dictionary<GuestResourceType, CoreItem> Destructors { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Imported interface names (as written in the component) and the host interface serving each.</summary>
    public List<(string Name, HostInterface Interface)> Imports { get; } = [];

    /// <summary>Exported functions: (interface name or "" for a top-level function, function name) → lifted function.</summary>
    public List<(string Interface, string Func, LiftedFunc Lifted)> Exports { get; } = [];
}
