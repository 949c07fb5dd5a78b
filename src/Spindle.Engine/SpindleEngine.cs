using Spindle.Wasmtime;

namespace Spindle.Engine;

/// <summary>
/// The process-wide Wasm engine area: one main engine (pooling, epochs, one ticker) and, when pooling, the
/// <see cref="HotLane"/> and the resident lane in front of it. Knows nothing of HTTP: the trigger builds its executor
/// factories over it. Made from <see cref="SpindleEngineOptions"/> (<see cref="Create(SpindleEngineOptions)"/>) or, for
/// tests and tuning, from explicit Wasmtime <see cref="EngineOptions"/>.
/// </summary>
public sealed class SpindleEngine : IDisposable
{
    /// <summary>
    /// Creates the engine with <paramref name="options"/> and, if <paramref name="hotLane"/> is given, a
    /// <see cref="HotLane"/> with those options (and a resident lane with <paramref name="residentLane"/>). Without
    /// arguments: the defaults of <see cref="SpindleEngineOptions"/>. <paramref name="hotLaneTrimInterval"/> is how often
    /// the lanes dispose idle instances (default 10 s, see <see cref="HotLane"/>).
    /// </summary>
    public SpindleEngine(EngineOptions? options = null, EngineOptions? hotLane = null, TimeSpan? hotLaneTrimInterval = null,
        EngineOptions? residentLane = null)
    {
        Engine = new WasmEngine(options ?? DefaultEngineOptions());
        try
        {
            if ((options is null ? DefaultHotLaneOptions() : hotLane) is not { } hot) return;
            HotLane = new HotLane(new WasmEngine(hot), hotLaneTrimInterval);
            if ((options is null ? DefaultResidentLaneOptions() : residentLane) is { } resident)
                ResidentLane = new HotLane(new WasmEngine(resident), hotLaneTrimInterval);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// The engine and lanes <paramref name="options"/> describe (validated first). Pooling off means no lanes; the
    /// cache directory, the cache switch and the memory limit apply to every engine.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is invalid (the message names it and its value).</exception>
    public static SpindleEngine Create(SpindleEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is [var first, ..]) throw new ArgumentException(first.ToString(), nameof(options));
        var main = MainEngineOptions(options);
        return new SpindleEngine(main, HotLaneOptions(options), options.LaneTrimInterval,
            ResidentLaneOptions(options));
    }

    // Every wasi-libc (C, Rust) module has at least two pages: data plus a 64 KiB shadow stack that crosses into
    // the second page. Keeping 128 KiB of memory resident resets such a module with one memset instead of madvise,
    // a TLB shootdown across cores and fresh page faults on every request (Wagi hello +36%, bench/README.md).
    internal const ulong DefaultMemoryKeepResident = 128 * 1024;
    internal const ulong DefaultTableKeepResident = 64 * 1024;

    // 4,096 core instances, memories and tables: 1,024 concurrent JavaScript requests of 4 core instances each;
    // admission control queues the rest.
    internal const uint DefaultPoolInstances = 4096;

    // 8 MiB fiber stacks: managed host code runs on them.
    internal const ulong DefaultFiberStackSize = 8 << 20;

    // Wasmtime's limit of the wasm part of a fiber stack (EngineOptions.MaxWasmStack's default).
    internal const ulong MaxWasmStack = 512 * 1024;

    /// <summary>
    /// The main engine's settings, chosen by measurement (bench/run.sh, bench/README.md): pooling with 4,096 core
    /// instances, memories and tables (1,024 concurrent JavaScript requests of 4 core instances each; admission
    /// control queues the rest), 8 MiB fiber stacks (managed host code runs on them), 128 KiB keep-resident for
    /// memories and 64 KiB for tables (freed slots are reset with memset instead of madvise plus page faults:
    /// +20–40% for WAT hello, +36% for Wagi hello at 128 KiB over 64 KiB, for small modules; a large keep-resident on
    /// this big pool would keep every slot ever used resident, so large memories are reset on the lanes instead).
    /// Each is a setting of <see cref="SpindleEngineOptions"/>.
    /// </summary>
    public static EngineOptions MainEngineOptions(SpindleEngineOptions settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var instances = settings.PoolInstances;
        return new EngineOptions
        {
            Pooling = settings.Pooling,
            TotalCoreInstances = instances,
            TotalMemories = instances,
            TotalTables = instances,
            AsyncStackSize = settings.FiberStackSize,
            LinearMemoryKeepResident = settings.MemoryKeepResident,
            TableKeepResident = settings.TableKeepResident,
            WarmUpMemories = settings.MemoryWarmup,
            CacheDirectory = settings.CacheDirectory,
            UseArtifactCache = settings.UseArtifactCache,
            StoreMemoryLimit = settings.MaxInstanceMemory,
        };
    }

    // The hot lane: where every wasi:http request runs, and what admission control counts them against (see
    // WasiHttpExecutor.Engine), so as many as the main pool: 1,024 JavaScript requests of 4 core instances at once.
    // A request beyond it waits in the admission queue for a warm instance, which is cheaper than a fresh
    // instantiation on the main engine (what it did when the lane had 256 core instances: 1,000 connections to a JS
    // guest whose fetch waits 100 ms gave 63 req/s, p99 7.5 s; with the lane as large as admission, 3,100–3,300 req/s,
    // p99 0.4 s, bench/README.md). Warm instances exist only as demand made them (about 3 MB each for a
    // JavaScript guest) and the idle ones are trimmed (HotLane).
    internal const uint DefaultHotInstances = 4096;

    // The hot lane's memory keep-resident is the main pool's (128 KiB, SpindleEngineOptions.HotKeepResident). A slot
    // whose instance is discarded (it trapped, timed out or grew its memory) is given back with madvise and mapped
    // afresh for the next instance, which faults in only the pages it touches. Keeping 32 MiB resident instead reset
    // every discarded slot with a copy of the whole 10 MB JavaScript image: faster for a guest whose memory grows on
    // every request (JS 1 MiB responses), but with a thousand warm instances each eviction and the shutdown copied
    // gigabytes (a minute, 10 GB RSS to stop a server after 1,000 connections).

    /// <summary>
    /// The <see cref="HotLane"/>'s settings: 4,096 core instances, memories and tables, 128 KiB memory and 64 KiB table
    /// keep-resident, every freed slot kept warm, no memory warm-up. Null when pooling is off or
    /// <see cref="SpindleEngineOptions.HotInstances"/> is 0.
    /// </summary>
    public static EngineOptions? HotLaneOptions(SpindleEngineOptions settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var instances = settings.HotInstances;
        if (instances == 0 || !settings.Pooling) return null;
        return MainEngineOptions(settings) with
        {
            Pooling = true,
            TotalCoreInstances = instances,
            TotalMemories = instances,
            TotalTables = instances,
            LinearMemoryKeepResident = settings.HotKeepResident,
            // Every slot stays warm: a slot turned cold is mapped afresh and its whole memory faulted in again.
            MaxUnusedWarmSlots = instances,
            WarmUpMemories = settings.HotMemoryWarmup,
        };
    }

    // The resident lane: a few slots in front of the hot lane whose memory stays resident when their instance is
    // discarded, so a replacement is reset with one copy instead of faulting its 10 MB JavaScript image in page by
    // page (a guest whose heap grows on every request, as for JS 1 MiB responses, is discarded every request:
    // 338 against 127 req/s, bench/README.md). Small, so that what it keeps resident is bounded (64 JavaScript
    // instances, at most 32 MiB each) while the large hot lane returns the memory of the instances it trims.
    internal const uint DefaultResidentInstances = 256;
    internal const ulong DefaultResidentKeepResident = 32 << 20;

    /// <summary>
    /// The resident lane's settings: 256 core instances, memories and tables, with 32 MiB memory and table
    /// keep-resident; requests try it before the <see cref="HotLane"/>. Null when there is no hot lane or
    /// <see cref="SpindleEngineOptions.ResidentInstances"/> is 0.
    /// </summary>
    public static EngineOptions? ResidentLaneOptions(SpindleEngineOptions settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var instances = settings.ResidentInstances;
        if (instances == 0 || HotLaneOptions(settings) is not { } hot) return null;
        return hot with
        {
            TotalCoreInstances = instances,
            TotalMemories = instances,
            TotalTables = instances,
            MaxUnusedWarmSlots = instances,
            LinearMemoryKeepResident = settings.ResidentKeepResident,
            TableKeepResident = settings.ResidentKeepResident,
        };
    }

    /// <summary>The main engine's settings with every default (<see cref="MainEngineOptions"/>).</summary>
    public static EngineOptions DefaultEngineOptions() => MainEngineOptions(new SpindleEngineOptions());

    /// <summary>The hot lane's settings with every default (<see cref="HotLaneOptions"/>).</summary>
    public static EngineOptions DefaultHotLaneOptions() => HotLaneOptions(new SpindleEngineOptions())!;

    /// <summary>The resident lane's settings with every default (<see cref="ResidentLaneOptions"/>).</summary>
    public static EngineOptions DefaultResidentLaneOptions() => ResidentLaneOptions(new SpindleEngineOptions())!;

    /// <summary>The engine every component of the process is compiled for.</summary>
    public WasmEngine Engine { get; }

    /// <summary>Where wasi:http requests run while it has room (null: none; every request uses <see cref="Engine"/>).</summary>
    public HotLane? HotLane { get; }

    /// <summary>The small lane requests try first, whose discarded slots stay resident (null: none).</summary>
    public HotLane? ResidentLane { get; }

    /// <summary>The lanes a wasi:http request tries, in order.</summary>
    public IEnumerable<HotLane> Lanes => new[] { ResidentLane, HotLane }.OfType<HotLane>();

    /// <inheritdoc />
    public void Dispose()
    {
        ResidentLane?.Dispose();
        HotLane?.Dispose();
        Engine.Dispose();
    }
}
