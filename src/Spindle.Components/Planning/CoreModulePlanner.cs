using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Runtime;

namespace Spindle.Components.Planning;

/// <summary>
/// The plan of a core module given the canonical ABI by a <see cref="CoreModuleBinding"/>: one core instantiation
/// whose imports are host functions lowered with the module's own memory and realloc (resolved when first called,
/// after instantiation, as every lowered function's options are) or core-level host functions, and whose listed
/// exports are lifted. It is what wit-component would produce around the module, without the shim and fix-up
/// modules a component needs to name the memory of an instance that does not exist yet.
/// </summary>
internal static class CoreModulePlanner
{
    public static InstantiationPlan Build(ReadOnlyMemory<byte> module, HostRegistry host, CoreModuleBinding binding)
    {
        var plan = new InstantiationPlan { ComponentInstanceCount = 1 };
        var info = CoreModuleInfo.Read(module, 0);
        plan.Modules.Add(info);
        var memory = new CoreExportItem(0, binding.Memory, CoreSort.Memory);
        var realloc = binding.Realloc is { } r ? new CoreExportItem(0, r, CoreSort.Func) : null;
        var lowerOptions = new ResolvedOptions(StringEncoding.Utf8, memory, realloc, null);

        var imports = new List<ImportBinding>();
        var lowered = new Dictionary<(string, string), LoweredItem>();
        foreach (var (moduleName, name, kind) in info.Imports)
        {
            if (binding.CoreHostModules.Contains(moduleName))
            {
                imports.Add(new ImportBinding(moduleName, name, kind, CoreHostItem.Instance));
                continue;
            }
            if (binding.Import(moduleName, name) is not var (ifaceName, funcName))
                throw new ComponentLoadException($"the module imports '{moduleName}' '{name}', which this host does not provide");
            var iface = host.Resolve(ifaceName)
                ?? throw new ComponentLoadException($"the module imports '{moduleName}' '{name}' ({ifaceName}), which this host does not provide");
            if (!iface.Functions.TryGetValue(funcName, out var fn))
                throw new ComponentLoadException($"the module imports '{moduleName}' '{name}': {iface} has no function '{funcName}'");
            if (kind != CoreSort.Func)
                throw new ComponentLoadException($"the module imports '{moduleName}' '{name}' as a {kind.ToString().ToLowerInvariant()}, but it is a function");
            if (!lowered.TryGetValue((ifaceName, funcName), out var item))
            {
                var f = new LoweredFunc(plan.Lowered.Count, iface, fn, fn.Type, lowerOptions, 0);
                plan.Lowered.Add(f);
                lowered[(ifaceName, funcName)] = item = new LoweredItem(f.Index);
                if (!plan.Imports.Exists(i => i.Name == ifaceName)) plan.Imports.Add((ifaceName, iface));
            }
            imports.Add(new ImportBinding(moduleName, name, kind, item));
        }
        plan.Steps.Add(new InstantiateStep(0, 0, imports.ToArray()));

        var exported = info.Exports;
        foreach (var e in binding.Exports)
        {
            if (!exported.Contains(e.CoreName))
            {
                if (e.Optional) continue;
                throw new ComponentLoadException($"the module does not export '{e.CoreName}'");
            }
            var postReturn = e.PostReturn is { } p && exported.Contains(p) ? new CoreExportItem(0, p, CoreSort.Func) : null;
            var lifted = new LiftedFunc(plan.Lifted.Count, new CoreExportItem(0, e.CoreName, CoreSort.Func), e.Type,
                new ResolvedOptions(StringEncoding.Utf8, memory, realloc, postReturn), 0);
            plan.Lifted.Add(lifted);
            plan.Exports.Add((e.Interface, e.Function, lifted));
        }
        return plan;
    }
}
