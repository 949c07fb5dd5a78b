using Spindle.Wasmtime;

namespace Spindle.Engine;

/// <summary>How many requests' worth of core instances an engine's pools hold (what admission control and the lanes count against).</summary>
public static class PoolCapacity
{
    /// <summary>Core instances <paramref name="engine"/>'s pools can hold for concurrent requests (see <see cref="Of(EngineOptions)"/>).</summary>
    public static int Of(WasmEngine engine) => Of(engine.Options);

    /// <summary>
    /// Core instances that may be alive at once without any pool running dry. Requests are weighted by their
    /// core instance count (at least 1) and each holds at most two fiber stacks (instantiate or call, plus a
    /// nested call such as cabi_realloc) and at most one memory and one table per core instance and per allowed
    /// memory/table of a module, so the capacity is the smallest of: total core instances; total memories (or
    /// tables) divided by the per-module maximum; half the stacks. On-demand engines have no instance pool,
    /// only <see cref="EngineOptions.MaxFiberStacks"/>.
    /// </summary>
    public static int Of(EngineOptions o)
    {
        const uint WasmtimeDefault = 1000;
        if (!o.Pooling) return Math.Max(1, o.MaxFiberStacks / 2);
        ulong capacity = o.TotalCoreInstances;
        capacity = Math.Min(capacity, (o.TotalMemories ?? WasmtimeDefault) / Math.Max(1u, o.MaxMemoriesPerModule ?? 1));
        capacity = Math.Min(capacity, (o.TotalTables ?? WasmtimeDefault) / Math.Max(1u, o.MaxTablesPerModule ?? 1));
        capacity = Math.Min(capacity, (o.TotalStacks ?? 2UL * o.TotalCoreInstances) / 2);
        return (int)Math.Clamp(capacity, 1, int.MaxValue);
    }
}
