using System.Globalization;

namespace Spindle.Engine;

/// <summary>
/// The engine settings of a Spindle process (configuration section <c>Spindle:Engine</c>): the main pool, the hot and
/// resident lanes, fiber stacks, the artifact cache and the memory limit. The defaults are the measured ones
/// (<see cref="SpindleEngine"/>, bench/README.md). <see cref="SpindleEngine.Create(SpindleEngineOptions)"/> turns them into
/// Wasmtime <see cref="Wasmtime.EngineOptions"/>; <see cref="Validate"/> checks them first.
/// </summary>
public sealed class SpindleEngineOptions
{
    /// <summary>Largest pool (core instances, memories, tables) a setting may ask for.</summary>
    public const uint MaxInstances = 1_000_000;

    /// <summary>
    /// Use the pooling instance allocator (default on; <c>--disable-pooling</c>, <c>SPINDLE_POOLING=0</c>). Off:
    /// instances are allocated on demand and there are no lanes.
    /// </summary>
    public bool Pooling { get; set; } = true;

    /// <summary>The main pool's core instances, memories and tables (default 4,096; <c>SPINDLE_POOL_INSTANCES</c>).</summary>
    public uint PoolInstances { get; set; } = SpindleEngine.DefaultPoolInstances;

    /// <summary>Bytes of each freed linear memory of the main pool kept resident (default 128 KiB; <c>SPINDLE_MEMORY_KEEP_RESIDENT</c>).</summary>
    public ulong MemoryKeepResident { get; set; } = SpindleEngine.DefaultMemoryKeepResident;

    /// <summary>Bytes of each freed table kept resident, main pool and hot lane (default 64 KiB; <c>SPINDLE_TABLE_KEEP_RESIDENT</c>).</summary>
    public ulong TableKeepResident { get; set; } = SpindleEngine.DefaultTableKeepResident;

    /// <summary>Pre-fault a large guest memory's known pages before each call on the main engine (default on; <c>SPINDLE_MEMORY_WARMUP</c>).</summary>
    public bool MemoryWarmup { get; set; } = true;

    /// <summary>The hot lane's core instances, memories and tables (default 4,096; 0: no hot and no resident lane; <c>SPINDLE_HOT_INSTANCES</c>).</summary>
    public uint HotInstances { get; set; } = SpindleEngine.DefaultHotInstances;

    /// <summary>Bytes of each freed hot-lane memory kept resident (default 128 KiB; <c>SPINDLE_HOT_KEEP_RESIDENT</c>).</summary>
    public ulong HotKeepResident { get; set; } = SpindleEngine.DefaultMemoryKeepResident;

    /// <summary>Memory warm-up on the hot and resident lanes (default off; <c>SPINDLE_HOT_MEMORY_WARMUP</c>).</summary>
    public bool HotMemoryWarmup { get; set; }

    /// <summary>The resident lane's core instances, memories and tables (default 256; 0: none; <c>SPINDLE_RESIDENT_INSTANCES</c>).</summary>
    public uint ResidentInstances { get; set; } = SpindleEngine.DefaultResidentInstances;

    /// <summary>Bytes of each freed resident-lane memory and table kept resident (default 32 MiB).</summary>
    public ulong ResidentKeepResident { get; set; } = SpindleEngine.DefaultResidentKeepResident;

    /// <summary>Size in bytes of each fiber (async) stack: the wasm stack plus room for managed host code (default 8 MiB).</summary>
    public ulong FiberStackSize { get; set; } = SpindleEngine.DefaultFiberStackSize;

    /// <summary>How often each lane disposes the instances that stayed idle through a whole interval (default 10 s).</summary>
    public TimeSpan LaneTrimInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Where compiled artifacts are kept (<c>--cache-dir</c>, <c>SPINDLE_CACHE_DIR</c>; null: <c>~/.cache/spindle</c>;
    /// the CLI maps <c>XDG_CACHE_HOME</c> onto it).
    /// </summary>
    public string? CacheDirectory { get; set; }

    /// <summary>Read and write compiled artifacts (default on; <c>--disable-cache</c> turns it off: every start compiles).</summary>
    public bool UseArtifactCache { get; set; } = true;

    /// <summary>
    /// The most bytes a guest's memory may grow to (<c>--max-instance-memory</c>, <c>SPIN_MAX_INSTANCE_MEMORY</c>); a
    /// <c>memory.grow</c> past it fails in the guest. Null: no limit.
    /// </summary>
    public long? MaxInstanceMemory { get; set; }

    /// <summary>
    /// Checks every setting; each problem is one <see cref="SettingError"/> whose key is <paramref name="prefix"/> plus
    /// the property name (e.g. <c>Spindle:Engine:PoolInstances</c>).
    /// </summary>
    public IReadOnlyList<SettingError> Validate(string prefix = "Spindle:Engine:")
    {
        var errors = new List<SettingError>();
        void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) errors.Add(new SettingError(prefix + name, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "(null)", rule));
        }
        Check(PoolInstances is >= 1 and <= MaxInstances, nameof(PoolInstances), PoolInstances, $"must be 1..{MaxInstances}");
        Check(HotInstances <= MaxInstances, nameof(HotInstances), HotInstances, $"must be 0..{MaxInstances} (0: no hot lane)");
        Check(ResidentInstances <= MaxInstances, nameof(ResidentInstances), ResidentInstances, $"must be 0..{MaxInstances} (0: no resident lane)");
        Check(FiberStackSize > SpindleEngine.MaxWasmStack && FiberStackSize <= 1UL << 30, nameof(FiberStackSize), FiberStackSize,
            $"must be more than the {SpindleEngine.MaxWasmStack}-byte wasm stack and at most 1 GiB");
        Check(LaneTrimInterval > TimeSpan.Zero || LaneTrimInterval == Timeout.InfiniteTimeSpan, nameof(LaneTrimInterval), LaneTrimInterval,
            "must be positive (or -00:00:00.001: never)");
        Check(CacheDirectory is null || CacheDirectory.Trim().Length > 0, nameof(CacheDirectory), CacheDirectory, "must not be empty (leave it unset for the default)");
        Check(MaxInstanceMemory is null or > 0, nameof(MaxInstanceMemory), MaxInstanceMemory, "must be a number of bytes (1 or more), or unset for no limit");
        return errors;
    }
}

/// <summary>One invalid setting: its configuration key, its value and the rule it breaks (<c>Key = Value: Rule</c>).</summary>
/// <param name="Key">The configuration key, e.g. <c>Spindle:Engine:PoolInstances</c>.</param>
/// <param name="Value">The value as given.</param>
/// <param name="Rule">What the value must be.</param>
public sealed record SettingError(string Key, string Value, string Rule)
{
    /// <inheritdoc />
    public override string ToString() => $"{Key} = {Value}: {Rule}";
}
