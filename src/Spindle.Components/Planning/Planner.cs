using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Types;

namespace Spindle.Components.Planning;

/// <summary>
/// Flattens a parsed component into an <see cref="InstantiationPlan"/>: walks the definitions in order, building
/// the index spaces the spec describes, inlines nested component instantiations (their imports are the
/// <c>with</c> arguments), binds root imports to host interfaces (checking every imported function's type), and
/// turns core instantiations into plan steps whose imports are resolved to earlier core exports or host functions.
/// </summary>
internal sealed class Planner
{
    private readonly HostRegistry _host;
    private readonly InstantiationPlan _plan = new();
    private readonly Dictionary<CoreModuleDef, int> _moduleIndex = new(ReferenceEqualityComparer.Instance);

    private readonly bool _stubMissing;

    private Planner(HostRegistry host, bool stubMissing)
    {
        _host = host;
        _stubMissing = stubMissing;
    }

    /// <summary>Builds the plan. With <paramref name="stubMissing"/>, imports the host lacks get trapping stubs (tests, inspection).</summary>
    public static InstantiationPlan Build(ComponentAst root, HostRegistry host, bool stubMissing = false)
    {
        var p = new Planner(host, stubMissing);
        var frame = new Frame(null, p._plan.ComponentInstanceCount++, args: null);
        p.Walk(root, frame);
        foreach (var (name, item) in frame.Exports)
            p.AddRootExport(name, item);
        return p._plan;
    }

    // ---- items of the component-level index spaces ----

    private abstract record CompFunc(FuncType Type);
    private sealed record HostFuncRef(HostInterface Interface, HostFunction Function, FuncType Type) : CompFunc(Type);
    private sealed record LiftedRef(LiftedFunc Lifted) : CompFunc(Lifted.Type);

    private abstract record CompInstance;
    private sealed record HostInstance(string ImportName, HostInterface Interface, ResolvedInstanceType Type, Dictionary<string, HostFuncRef> Funcs) : CompInstance;
    private sealed record BagInstance(Dictionary<string, (SortKind Sort, object Item)> Exports) : CompInstance;

    private abstract record CoreInstance;
    private sealed record RealCoreInstance(int Step) : CoreInstance;
    private sealed record BagCoreInstance(Dictionary<string, (CoreSort Sort, object Item)> Exports) : CoreInstance;

    private sealed record ComponentTemplate(ComponentAst Ast, Frame Defining);

    /// <summary>One component instance being flattened, with its index spaces.</summary>
    private sealed class Frame(Frame? parent, int instanceId, Dictionary<string, (SortKind Sort, object Item)>? args) : TypeScope(parent)
    {
        public new Frame? Parent { get; } = parent;
        public int InstanceId { get; } = instanceId;
        public Dictionary<string, (SortKind Sort, object Item)>? Args { get; } = args;
        public List<CoreItem> CoreFuncs { get; } = [];
        public List<CoreItem> CoreTables { get; } = [];
        public List<CoreItem> CoreMemories { get; } = [];
        public List<CoreItem> CoreGlobals { get; } = [];
        public int CoreTypeCount { get; set; }
        public List<int> CoreModules { get; } = [];
        public List<CoreInstance> CoreInstances { get; } = [];
        public List<CompFunc> Funcs { get; } = [];
        public List<CompInstance> Instances { get; } = [];
        public List<ComponentTemplate> Components { get; } = [];
        public Dictionary<string, (SortKind Sort, object Item)> Exports { get; } = new(StringComparer.Ordinal);

        public Frame OuterFrame(int count, int offset)
        {
            var f = this;
            for (var i = 0; i < count; i++)
                f = f.Parent ?? throw new ComponentLoadException($"malformed component: outer alias count {count} reaches beyond the outermost component at byte offset 0x{offset:x}");
            return f;
        }

        public List<CoreItem> CoreSpace(CoreSort s, int offset) => s switch
        {
            CoreSort.Func => CoreFuncs,
            CoreSort.Table => CoreTables,
            CoreSort.Memory => CoreMemories,
            CoreSort.Global => CoreGlobals,
            _ => throw new ComponentLoadException($"unsupported core sort {s} at byte offset 0x{offset:x}"),
        };

        public T At<T>(List<T> list, int index, string what, int offset) =>
            (uint)index < (uint)list.Count ? list[index]
            : throw new ComponentLoadException($"malformed component: {what} index {index} out of range (have {list.Count}) at byte offset 0x{offset:x}");

        /// <summary>Reads an item of any sort (for exports, instantiate args, outer aliases).</summary>
        public object Get(SortKind sort, int index, int offset) => sort.Sort switch
        {
            Sort.Func => At(Funcs, index, "func", offset),
            Sort.Instance => At(Instances, index, "instance", offset),
            Sort.Type => Type(index, offset),
            Sort.Component => At(Components, index, "component", offset),
            Sort.Core when sort.Core == CoreSort.Module => At(CoreModules, index, "core module", offset),
            Sort.Core when sort.Core == CoreSort.Instance => At(CoreInstances, index, "core instance", offset),
            Sort.Core when sort.Core == CoreSort.Type => 0,
            Sort.Core => At(CoreSpace(sort.Core, offset), index, $"core {sort.Core.ToString().ToLowerInvariant()}", offset),
            _ => throw new ComponentLoadException($"unsupported sort {sort} at byte offset 0x{offset:x}"),
        };

        /// <summary>Appends an item to the index space of its sort (aliases, imports and exports all do this).</summary>
        public void Add(SortKind sort, object item, int offset)
        {
            switch (sort.Sort)
            {
                case Sort.Func: Funcs.Add(Expect<CompFunc>(item, sort, offset)); break;
                case Sort.Instance: Instances.Add(Expect<CompInstance>(item, sort, offset)); break;
                case Sort.Type: Types.Add(Expect<TypeEntry>(item, sort, offset)); break;
                case Sort.Component: Components.Add(Expect<ComponentTemplate>(item, sort, offset)); break;
                case Sort.Core when sort.Core == CoreSort.Module: CoreModules.Add(Expect<int>(item, sort, offset)); break;
                case Sort.Core when sort.Core == CoreSort.Instance: CoreInstances.Add(Expect<CoreInstance>(item, sort, offset)); break;
                case Sort.Core when sort.Core == CoreSort.Type: CoreTypeCount++; break;
                case Sort.Core: CoreSpace(sort.Core, offset).Add(Expect<CoreItem>(item, sort, offset)); break;
                default: throw new ComponentLoadException($"unsupported sort {sort} at byte offset 0x{offset:x}");
            }
        }

        private static T Expect<T>(object item, SortKind sort, int offset) => item is T t ? t
            : throw new ComponentLoadException($"malformed component: item is not a {sort} at byte offset 0x{offset:x}");
    }

    // ---- the walk ----

    private void Walk(ComponentAst ast, Frame f)
    {
        foreach (var def in ast.Definitions)
        {
            switch (def)
            {
                case CoreModuleDef m:
                    if (!_moduleIndex.TryGetValue(m, out var mi))
                    {
                        mi = _plan.Modules.Count;
                        _plan.Modules.Add(CoreModuleInfo.Read(m.Bytes, m.Offset));
                        _moduleIndex[m] = mi;
                    }
                    f.CoreModules.Add(mi);
                    break;
                case CoreTypeDef: f.CoreTypeCount++; break;
                case CoreInstantiateDef ci: f.CoreInstances.Add(CoreInstantiate(ci, f)); break;
                case CoreInstanceFromExportsDef ce:
                {
                    var bag = new Dictionary<string, (CoreSort, object)>(StringComparer.Ordinal);
                    foreach (var (name, sort, index) in ce.Exports)
                        bag[name] = (sort, f.Get(new SortKind(Sort.Core, sort), index, ce.Offset));
                    f.CoreInstances.Add(new BagCoreInstance(bag));
                    break;
                }
                case NestedComponentDef nc: f.Components.Add(new ComponentTemplate(nc.Component, f)); break;
                case InstantiateDef id: f.Instances.Add(Instantiate(id, f)); break;
                case InstanceFromExportsDef ie:
                {
                    var bag = new Dictionary<string, (SortKind, object)>(StringComparer.Ordinal);
                    foreach (var (name, sort, index) in ie.Exports)
                        bag[name] = (sort, f.Get(sort, index, ie.Offset));
                    f.Instances.Add(new BagInstance(bag));
                    break;
                }
                case AliasDef a: Alias(a, f); break;
                case TypeDef t:
                {
                    var entry = f.Define(t.Type, t.Offset);
                    if (t.Type is ResourceAst { Destructor: { } dtor } && entry is ResourceEntry { Resource: GuestResourceType g })
                        _plan.Destructors[g] = f.At(f.CoreFuncs, dtor, "core func", t.Offset);
                    f.Types.Add(entry);
                    break;
                }
                case CanonDef c: Canon(c, f); break;
                case ImportDef i: Import(i, f); break;
                case ExportDef e:
                {
                    var item = f.Get(e.Sort, e.Index, e.Offset);
                    f.Exports[e.Name] = (e.Sort, item);
                    f.Add(e.Sort, item, e.Offset);
                    break;
                }
                default: throw new ComponentLoadException($"unsupported definition {def.GetType().Name} at byte offset 0x{def.Offset:x}");
            }
        }
    }

    private CoreInstance CoreInstantiate(CoreInstantiateDef ci, Frame f)
    {
        var moduleIndex = f.At(f.CoreModules, ci.Module, "core module", ci.Offset);
        var module = _plan.Modules[moduleIndex];
        var args = new Dictionary<string, CoreInstance>(StringComparer.Ordinal);
        foreach (var (name, inst) in ci.Args) args[name] = f.At(f.CoreInstances, inst, "core instance", ci.Offset);
        var step = _plan.Steps.Count;
        var imports = new ImportBinding[module.Imports.Length];
        for (var i = 0; i < imports.Length; i++)
        {
            var (m, n, kind) = module.Imports[i];
            if (!args.TryGetValue(m, out var source))
                throw new ComponentLoadException($"core instance at byte offset 0x{ci.Offset:x}: core module {moduleIndex} imports '{m}' '{n}' but no instance named '{m}' is passed");
            imports[i] = new ImportBinding(m, n, kind, CoreExport(source, n, kind, ci.Offset));
        }
        _plan.Steps.Add(new InstantiateStep(step, moduleIndex, imports));
        return new RealCoreInstance(step);
    }

    private static CoreItem CoreExport(CoreInstance inst, string name, CoreSort kind, int offset)
    {
        switch (inst)
        {
            case RealCoreInstance r: return new CoreExportItem(r.Step, name, kind);
            case BagCoreInstance b:
                if (!b.Exports.TryGetValue(name, out var e))
                    throw new ComponentLoadException($"malformed component: core instance has no export '{name}' (byte offset 0x{offset:x})");
                if (e.Sort != kind)
                    throw new ComponentLoadException($"malformed component: core export '{name}' is a {e.Sort}, expected a {kind} (byte offset 0x{offset:x})");
                return (CoreItem)e.Item;
            default: throw new InvalidOperationException();
        }
    }

    private CompInstance Instantiate(InstantiateDef id, Frame f)
    {
        var template = f.At(f.Components, id.Component, "component", id.Offset);
        var args = new Dictionary<string, (SortKind, object)>(StringComparer.Ordinal);
        foreach (var (name, sort, index) in id.Args) args[name] = (sort, f.Get(sort, index, id.Offset));
        var nested = new Frame(template.Defining, _plan.ComponentInstanceCount++, args);
        Walk(template.Ast, nested);
        return new BagInstance(nested.Exports);
    }

    private static void Alias(AliasDef a, Frame f)
    {
        switch (a.Kind)
        {
            case AliasKind.InstanceExport:
            {
                var inst = f.At(f.Instances, a.Instance, "instance", a.Offset);
                f.Add(a.Sort, InstanceExport(inst, a.Name, a.Sort, a.Offset), a.Offset);
                break;
            }
            case AliasKind.CoreInstanceExport:
            {
                var inst = f.At(f.CoreInstances, a.Instance, "core instance", a.Offset);
                if (a.Sort.Sort != Sort.Core) throw new ComponentLoadException($"malformed component: core export alias of sort {a.Sort} at byte offset 0x{a.Offset:x}");
                f.Add(a.Sort, CoreExport(inst, a.Name, a.Sort.Core, a.Offset), a.Offset);
                break;
            }
            case AliasKind.Outer:
            {
                var outer = f.OuterFrame(a.OuterCount, a.Offset);
                if (a.Sort.Sort is not (Sort.Type or Sort.Component) && a.Sort is not { Sort: Sort.Core, Core: CoreSort.Module or CoreSort.Type })
                    throw new ComponentLoadException($"malformed component: outer alias of {a.Sort} at byte offset 0x{a.Offset:x}");
                f.Add(a.Sort, outer.Get(a.Sort, a.OuterIndex, a.Offset), a.Offset);
                break;
            }
        }
    }

    private static object InstanceExport(CompInstance inst, string name, SortKind sort, int offset)
    {
        switch (inst)
        {
            case HostInstance h:
                if (sort.Sort == Sort.Func && h.Funcs.TryGetValue(name, out var fn)) return fn;
                if (sort.Sort == Sort.Type && h.Type.Types.TryGetValue(name, out var t)) return t;
                throw new ComponentLoadException($"import '{h.ImportName}' has no {sort} export '{name}' (byte offset 0x{offset:x})");
            case BagInstance b:
                if (b.Exports.TryGetValue(name, out var e) && e.Sort == sort) return e.Item;
                throw new ComponentLoadException($"malformed component: instance has no {sort} export '{name}' (byte offset 0x{offset:x})");
            default: throw new InvalidOperationException();
        }
    }

    private void Import(ImportDef i, Frame f)
    {
        if (f.Args is { } args)
        {
            // A nested component: its imports are the instantiate arguments of the same name.
            if (!args.TryGetValue(i.Name, out var arg))
                throw new ComponentLoadException($"malformed component: nested component import '{i.Name}' is not supplied by its instantiation (byte offset 0x{i.Offset:x})");
            f.Add(arg.Sort, arg.Item, i.Offset);
            return;
        }
        switch (i.Desc.Kind)
        {
            case ExternKind.Instance:
                f.Instances.Add(ImportHostInstance(i, f));
                break;
            case ExternKind.Type when !i.Desc.SubResource:
                f.Types.Add(f.Type(i.Desc.Index, i.Offset));
                break;
            default:
                throw new ComponentLoadException($"component import '{i.Name}' ({i.Desc}) is not supported: only instance (interface) imports can be served by the host");
        }
    }

    private HostInstance ImportHostInstance(ImportDef i, Frame f)
    {
        var iface = _host.Resolve(i.Name) ?? (_stubMissing ? StubInterface(i.Name)
            : throw new ComponentLoadException($"component imports '{i.Name}', which no host interface provides{Available(i.Name)}"));
        if (f.Type(i.Desc.Index, i.Offset) is not InstanceTypeEntry entry)
            throw new ComponentLoadException($"malformed component: import '{i.Name}' does not have an instance type (byte offset 0x{i.Offset:x})");
        var type = ResolvedInstanceType.Resolve(entry, name => iface.Resources.TryGetValue(name, out var r) ? r
            : _stubMissing ? iface.DefineResource(name)
            : throw new ComponentLoadException($"component imports resource '{name}' from '{i.Name}', but host interface {iface} does not declare it"), i.Offset);
        var funcs = new Dictionary<string, HostFuncRef>(StringComparer.Ordinal);
        foreach (var (name, componentType) in type.Funcs)
        {
            if (!iface.Functions.TryGetValue(name, out var hf) && _stubMissing)
            {
                var stubName = $"{i.Name}#{name}";
                iface.DefineFunc(name, componentType, (_, _) => throw new NotSupportedException($"{stubName} is a stub"));
                hf = iface.Functions[name];
            }
            if (hf is null)
                throw new ComponentLoadException($"component imports function '{name}' from '{i.Name}', but host interface {iface} does not provide it (the component expects {TypePrinter.Print(componentType)})");
            if (!TypeEquality.Equal(componentType, hf.Type))
                throw new ComponentLoadException($"type mismatch for function '{name}' of interface '{i.Name}': the component imports {TypePrinter.Print(componentType)} but host interface {iface} declares {TypePrinter.Print(hf.Type)}");
            funcs[name] = new HostFuncRef(iface, hf, hf.Type);
        }
        _plan.Imports.Add((i.Name, iface));
        return new HostInstance(i.Name, iface, type, funcs);
    }

    private HostInterface StubInterface(string importName)
    {
        var (name, version) = HostRegistry.SplitName(importName);
        var iface = new HostInterface(name, version ?? "0.0.0");
        _host.Add(iface);
        return iface;
    }

    private string Available(string importName)
    {
        var (name, _) = HostRegistry.SplitName(importName);
        var same = _host.Interfaces.Where(x => x.Name == name).Select(x => x.ToString()).ToArray();
        return same.Length == 0 ? "" : $" (the host has {string.Join(", ", same)}, which is not semver-compatible)";
    }

    private void Canon(CanonDef c, Frame f)
    {
        switch (c.Kind)
        {
            case CanonKind.Lift:
            {
                var type = f.Func(c.TypeIndex, c.Offset);
                // An async task (async lift, or any lift of an async function type) may block, return early with
                // task.return and outlive its call: Spindle only runs the sync tasks WASI 0.2 exports need.
                if (c.Options.Async || type.IsAsync)
                    throw new ComponentLoadException($"canon lift at byte offset 0x{c.Offset:x} ({(c.Options.Async ? "async-lifted export" : "lift of an async function type")}): {ComponentParser.AsyncNotSupported}");
                var core = f.At(f.CoreFuncs, c.Index, "core func", c.Offset);
                var lifted = new LiftedFunc(_plan.Lifted.Count, core, type, Options(c, f), f.InstanceId);
                _plan.Lifted.Add(lifted);
                f.Funcs.Add(new LiftedRef(lifted));
                break;
            }
            case CanonKind.Lower:
            {
                var func = f.At(f.Funcs, c.Index, "func", c.Offset);
                if (c.Options.PostReturn is not null)
                    throw new ComponentLoadException($"malformed component: canon lower with a post-return option at byte offset 0x{c.Offset:x}");
                if (func is LiftedRef lifted)
                {
                    if (c.Options.Async)
                        throw new ComponentLoadException($"canon lower async at byte offset 0x{c.Offset:x} of a function lifted by another component (async cross-component calls): {ComponentParser.AsyncNotSupported}");
                    if (lifted.Lifted.ComponentInstance == f.InstanceId)
                        throw new ComponentLoadException($"canon lower at byte offset 0x{c.Offset:x} lowers a function lifted by the same component instance (re-entrance is not allowed)");
                    var adapter = new AdapterFunc(_plan.Adapters.Count, lifted.Lifted, Options(c, f), f.InstanceId);
                    _plan.Adapters.Add(adapter);
                    f.CoreFuncs.Add(new AdapterItem(adapter.Index));
                    break;
                }
                var h = (HostFuncRef)func;
                var lowered = new LoweredFunc(_plan.Lowered.Count, h.Interface, h.Function, h.Type, Options(c, f), f.InstanceId);
                _plan.Lowered.Add(lowered);
                f.CoreFuncs.Add(new LoweredItem(lowered.Index));
                break;
            }
            case CanonKind.WaitableSetWait or CanonKind.WaitableSetPoll:
                f.CoreFuncs.Add(new AsyncBuiltinItem(c.Kind, f.At(f.CoreMemories, c.Index, "core memory", c.Offset), f.InstanceId));
                break;
            case CanonKind.StreamRead or CanonKind.StreamCancelRead or CanonKind.StreamDropReadable
                or CanonKind.FutureRead or CanonKind.FutureCancelRead or CanonKind.FutureDropReadable:
            {
                var stream = c.Kind is CanonKind.StreamRead or CanonKind.StreamCancelRead or CanonKind.StreamDropReadable;
                var type = f.ValType(new ValRef(null, c.Index), c.Offset);
                if (stream ? type is not StreamType : type is not FutureType)
                    throw new ComponentLoadException($"malformed component: canon {c.Kind} at byte offset 0x{c.Offset:x} names type {TypePrinter.Print(type)}, not a {(stream ? "stream" : "future")} type");
                var options = Options(c, f);
                if (c.Kind is CanonKind.StreamRead or CanonKind.FutureRead)
                {
                    if (options.Memory is null && (type is StreamType { Element: not null } or FutureType { Payload: not null }))
                        throw new ComponentLoadException($"canon {c.Kind} at byte offset 0x{c.Offset:x} ({TypePrinter.Print(type)}) copies values into linear memory but its canon options name no memory");
                    if (options.Realloc is not (null or CoreExportItem) || options.Memory is not (null or CoreExportItem))
                        throw new ComponentLoadException($"canon {c.Kind} at byte offset 0x{c.Offset:x}: canon options must name core exports (memory, realloc)");
                }
                f.CoreFuncs.Add(new AsyncBuiltinItem(c.Kind, options.Memory, f.InstanceId, type, options));
                break;
            }
            case CanonKind.WaitableSetNew or CanonKind.WaitableSetDrop or CanonKind.WaitableJoin or CanonKind.SubtaskDrop or CanonKind.SubtaskCancel:
                f.CoreFuncs.Add(new AsyncBuiltinItem(c.Kind, null, f.InstanceId));
                break;
            default:
            {
                var resource = f.Resource(c.Index, c.Offset);
                if (c.Kind != CanonKind.ResourceDrop && resource is not GuestResourceType)
                    throw new ComponentLoadException($"malformed component: canon {c.Kind} of the imported resource '{resource}' at byte offset 0x{c.Offset:x} (only resources defined by the component can be created or read)");
                f.CoreFuncs.Add(new ResourceOpItem(c.Kind, resource, f.InstanceId));
                break;
            }
        }
    }

    private static ResolvedOptions Options(CanonDef c, Frame f) => new(
        c.Options.Encoding,
        c.Options.Memory is { } m ? f.At(f.CoreMemories, m, "core memory", c.Offset) : null,
        c.Options.Realloc is { } r ? f.At(f.CoreFuncs, r, "core func", c.Offset) : null,
        c.Options.PostReturn is { } p ? f.At(f.CoreFuncs, p, "core func", c.Offset) : null,
        c.Options.Async);

    private void AddRootExport(string name, (SortKind Sort, object Item) export)
    {
        switch (export.Item)
        {
            case LiftedRef l: _plan.Exports.Add(("", name, l.Lifted)); break;
            case BagInstance b:
                foreach (var (fname, e) in b.Exports)
                    if (e.Item is LiftedRef lf) _plan.Exports.Add((name, fname, lf.Lifted));
                break;
            case HostFuncRef or HostInstance:
                break; // re-exporting a host import: nothing for the host to call
        }
    }
}
