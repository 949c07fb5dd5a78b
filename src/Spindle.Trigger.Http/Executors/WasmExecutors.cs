using Microsoft.Extensions.Logging;
using Spindle.App.Model;
using Spindle.Components;
using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Trigger.Http.Executors.SpinInbound;
using Spindle.Trigger.Http.Executors.Wagi;
using Spindle.Trigger.Http.Executors.WasiHttp;
using Spindle.Trigger.Http.Spin;
using Spindle.Wasi;
using Spindle.Wasi.Preview1;
using Spindle.Wasi.Preview2.Filesystem;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors;

/// <summary>
/// The process-wide Wasm runtime behind the executors: one engine (pooling, epochs, one ticker) and the host
/// interfaces every component is checked against (WASI 0.2, Spin's variables, key-value and SQLite). Registers the wasi:http and Wagi executor factories.
/// </summary>
public sealed class WasmExecutors : IDisposable
{
    private readonly HostRegistry _host = CreateHostRegistry();

    /// <summary>The interfaces components are checked against: WASI 0.2, Spin's variables, key-value and SQLite interfaces, and Spin's first-generation (unversioned) interfaces.</summary>
    public static HostRegistry CreateHostRegistry() =>
        LegacySpinModule.AddInterfaces(Spindle.Spin.Sqlite.SqliteInterfaces.AddTo(Spindle.Spin.KeyValue.KeyValueInterfaces.AddTo(SpinVariablesInterfaces.AddTo(WasiHost.CreateRegistry()))));

    /// <summary>
    /// Creates the engine with <paramref name="options"/> and, if <paramref name="hotLane"/> is given, a
    /// <see cref="HotLane"/> with those options. Without arguments: <see cref="DefaultEngineOptions"/> and
    /// <see cref="DefaultHotLaneOptions"/>. <paramref name="hotLaneTrimInterval"/> is how often the lane disposes
    /// idle instances (default 10 s, see <see cref="HotLane"/>).
    /// </summary>
    public WasmExecutors(EngineOptions? options = null, EngineOptions? hotLane = null, TimeSpan? hotLaneTrimInterval = null,
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
    /// The executors <c>spindle up</c> runs with <paramref name="settings"/> applied to every engine (main pool and
    /// lanes): pooling off means no lanes; the cache directory, the cache switch and the memory limit apply to all.
    /// </summary>
    public static WasmExecutors Create(RuntimeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        EngineOptions? Apply(EngineOptions? options) => options is null ? null : options with
        {
            CacheDirectory = settings.CacheDirectory ?? options.CacheDirectory,
            UseArtifactCache = settings.UseArtifactCache,
            StoreMemoryLimit = settings.MaxInstanceMemory,
        };
        var main = Apply(DefaultEngineOptions())!;
        if (!settings.Pooling) return new WasmExecutors(main with { Pooling = false }, hotLane: null);
        return new WasmExecutors(main, Apply(DefaultHotLaneOptions()), residentLane: Apply(DefaultResidentLaneOptions()));
    }

    // Every wasi-libc (C, Rust) module has at least two pages: data plus a 64 KiB shadow stack that crosses into
    // the second page. Keeping 128 KiB of memory resident resets such a module with one memset instead of madvise,
    // a TLB shootdown across cores and fresh page faults on every request (Wagi hello +36%, bench/README.md).
    private const ulong MemoryKeepResident = 128 * 1024;
    private const ulong TableKeepResident = 64 * 1024;

    /// <summary>
    /// The engine settings <c>spindle up</c> uses, chosen by measurement (bench/run.sh, bench/README.md):
    /// pooling with 4,096 core instances, memories and tables (1,024 concurrent JavaScript requests of 4 core
    /// instances each; admission control queues the rest), 8 MiB fiber stacks (managed host code runs on them),
    /// 128 KiB keep-resident for memories and 64 KiB for tables (freed slots are reset with memset instead of
    /// madvise plus page faults: +20–40% for WAT hello, +36% for Wagi hello at 128 KiB over 64 KiB, for
    /// small modules; a large keep-resident on this big pool would keep every slot ever used resident, so large
    /// memories are reset on the lanes instead). Overridable for tuning through the environment: <c>SPINDLE_POOLING=0|1</c>,
    /// <c>SPINDLE_POOL_INSTANCES=n</c>, <c>SPINDLE_MEMORY_KEEP_RESIDENT=bytes</c>, <c>SPINDLE_TABLE_KEEP_RESIDENT=bytes</c>,
    /// <c>SPINDLE_MEMORY_WARMUP=0|1</c>.
    /// </summary>
    public static EngineOptions DefaultEngineOptions()
    {
        var instances = EnvNumber("SPINDLE_POOL_INSTANCES") is { } n and > 0 ? (uint)Math.Min(n, 1_000_000UL) : 4096u;
        return new EngineOptions
        {
            Pooling = EnvNumber("SPINDLE_POOLING") != 0,
            TotalCoreInstances = instances,
            TotalMemories = instances,
            TotalTables = instances,
            AsyncStackSize = 8 << 20,
            LinearMemoryKeepResident = EnvNumber("SPINDLE_MEMORY_KEEP_RESIDENT") ?? MemoryKeepResident,
            TableKeepResident = EnvNumber("SPINDLE_TABLE_KEEP_RESIDENT") ?? TableKeepResident,
            WarmUpMemories = EnvNumber("SPINDLE_MEMORY_WARMUP") != 0,
        };
    }

    // The hot lane: where every wasi:http request runs, and what admission control counts them against (see
    // WasiHttpExecutor.Engine), so as many as the main pool: 1,024 JavaScript requests of 4 core instances at once.
    // A request beyond it waits in the admission queue for a warm instance, which is cheaper than a fresh
    // instantiation on the main engine (what it did when the lane had 256 core instances: 1,000 connections to a JS
    // guest whose fetch waits 100 ms gave 63 req/s, p99 7.5 s; with the lane as large as admission, 3,100–3,300 req/s,
    // p99 0.4 s, bench/README.md). Warm instances exist only as demand made them (about 3 MB each for a
    // JavaScript guest) and the idle ones are trimmed (HotLane).
    private const uint HotInstances = 4096;

    // Same as the main pool. A slot whose instance is discarded (it trapped, timed out or grew its memory) is given
    // back with madvise and mapped afresh for the next instance, which faults in only the pages it touches. Keeping
    // 32 MiB resident instead reset every discarded slot with a copy of the whole 10 MB JavaScript image: faster for
    // a guest whose memory grows on every request (JS 1 MiB responses), but with a thousand warm instances each
    // eviction and the shutdown copied gigabytes (a minute, 10 GB RSS to stop a server after 1,000 connections).
    private const ulong HotMemoryKeepResident = MemoryKeepResident;

    /// <summary>
    /// The <see cref="HotLane"/> settings <c>spindle up</c> uses: 4,096 core instances, memories and tables, 128 KiB
    /// memory and 64 KiB table keep-resident, every freed slot kept warm, no memory warm-up. Null when pooling is off
    /// or <c>SPINDLE_HOT_INSTANCES=0</c>; <c>SPINDLE_HOT_INSTANCES=n</c> sizes it and
    /// <c>SPINDLE_HOT_KEEP_RESIDENT=bytes</c> sets the memory keep-resident.
    /// </summary>
    public static EngineOptions? DefaultHotLaneOptions()
    {
        var instances = EnvNumber("SPINDLE_HOT_INSTANCES") is { } n ? (uint)Math.Min(n, 1_000_000UL) : HotInstances;
        if (instances == 0 || EnvNumber("SPINDLE_POOLING") == 0) return null;
        return new EngineOptions
        {
            Pooling = true,
            TotalCoreInstances = instances,
            TotalMemories = instances,
            TotalTables = instances,
            AsyncStackSize = 8 << 20,
            LinearMemoryKeepResident = EnvNumber("SPINDLE_HOT_KEEP_RESIDENT") ?? HotMemoryKeepResident,
            TableKeepResident = TableKeepResident,
            // Every slot stays warm: a slot turned cold is mapped afresh and its whole memory faulted in again.
            MaxUnusedWarmSlots = instances,
            WarmUpMemories = EnvNumber("SPINDLE_HOT_MEMORY_WARMUP") == 1,
        };
    }

    // The resident lane: a few slots in front of the hot lane whose memory stays resident when their instance is
    // discarded, so a replacement is reset with one copy instead of faulting its 10 MB JavaScript image in page by
    // page (a guest whose heap grows on every request, as for JS 1 MiB responses, is discarded every request:
    // 338 against 127 req/s, bench/README.md). Small, so that what it keeps resident is bounded (64 JavaScript
    // instances, at most 32 MiB each) while the large hot lane returns the memory of the instances it trims.
    private const uint ResidentInstances = 256;
    private const ulong ResidentKeepResident = 32 << 20;

    /// <summary>
    /// The resident lane's settings: 256 core instances, memories and tables, with 32 MiB memory and table
    /// keep-resident; requests try it before the <see cref="HotLane"/>. Null when pooling is off or
    /// <c>SPINDLE_RESIDENT_INSTANCES=0</c> (<c>=n</c> sizes it).
    /// </summary>
    public static EngineOptions? DefaultResidentLaneOptions()
    {
        var instances = EnvNumber("SPINDLE_RESIDENT_INSTANCES") is { } n ? (uint)Math.Min(n, 1_000_000UL) : ResidentInstances;
        if (instances == 0 || DefaultHotLaneOptions() is not { } hot) return null;
        return hot with
        {
            TotalCoreInstances = instances,
            TotalMemories = instances,
            TotalTables = instances,
            MaxUnusedWarmSlots = instances,
            LinearMemoryKeepResident = ResidentKeepResident,
            TableKeepResident = ResidentKeepResident,
        };
    }

    private static ulong? EnvNumber(string name) =>
        ulong.TryParse(Environment.GetEnvironmentVariable(name), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>The engine every component of the process is compiled for.</summary>
    public WasmEngine Engine { get; }

    /// <summary>Where wasi:http requests run while it has room (null: none; every request uses <see cref="Engine"/>).</summary>
    public HotLane? HotLane { get; }

    /// <summary>The small lane requests try first, whose discarded slots stay resident (null: none).</summary>
    public HotLane? ResidentLane { get; }

    /// <summary>The lanes a wasi:http request tries, in order.</summary>
    public IEnumerable<HotLane> Lanes => new[] { ResidentLane, HotLane }.OfType<HotLane>();

    /// <summary>A registry with both factories, for <c>spindle up</c> and tests.</summary>
    public ExecutorFactoryRegistry CreateRegistry()
    {
        var registry = new ExecutorFactoryRegistry();
        registry.Add(ExecutorKind.Http, new ComponentFactory(this));
        registry.Add(ExecutorKind.Wagi, new WagiFactory(this));
        return registry;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ResidentLane?.Dispose();
        HotLane?.Dispose();
        Engine.Dispose();
    }

    /// <summary>The logger of a component's guest output: its own category (<see cref="GuestOutput.Category"/>), apart from the host's messages about it.</summary>
    private static ILogger OutputLogger(ExecutorContext context) => context.Logging.CreateLogger(GuestOutput.Category(context.Component.Id));

    private static IProgress<string> CompileProgress(ILogger logger, string componentId) =>
        new Progress<string>(message => logger.LogInformation("{Component}: {Message}", componentId, message));

    private sealed class ComponentFactory(WasmExecutors runtime) : IExecutorFactory
    {
        public IRequestExecutor Create(ExecutorContext context)
        {
            var id = context.Component.Id;
            var logger = context.Logging.CreateLogger("Spindle.Component." + id);
            var bytes = ReadSource(context.Component);
            try
            {
                // A core module of Spin's first SDKs, or a component exporting their interface: the Spin executor.
                if (LegacySpinModule.IsCoreModule(bytes))
                    return CreateSpinInbound(LegacySpinModule.Load(runtime.Engine, bytes, runtime._host, CompileProgress(logger, id)));

                // Both loads prepare the modules for reset (extra exports only), so they compile the same bytes and the
                // second finds the artifacts in the cache (the engines differ only in pool settings).
                // With instance reuse off (--instance-reuse off) the modules are loaded as built, so their instances
                // have no reset point (Component.ResetBlocker): every request gets a fresh instance, as in Spin. They
                // still run on the hot lane while it has room: its slots stay resident, so a fresh JavaScript instance
                // there costs one copy of the written pages, where the main pool faults its 10 MB image in page by
                // page (JS hello, reuse off: 1.1–1.4k req/s on the lane against 0.25–0.44k without it, README.md
                // "Instance reuse"; 2.2–2.9k against 0.6–0.8k in bench/README.md's "hot lane" row).
                Func<WasmEngine, byte[], HostRegistry, IProgress<string>?, Component> load = context.InstanceReuse ? LoadResettable : LoadAsBuilt;
                var component = load(runtime.Engine, bytes, runtime._host, CompileProgress(logger, id));
                if (SpinInboundExecutor.Serves(component) && component.FindExport(WasiHttpExecutor.HandlerInterface, "handle") is null)
                    return CreateSpinInbound(component);
                var lanes = runtime.Lanes.Select(lane => (lane, load(lane.Engine, bytes, runtime._host, null))).ToArray();
                var preopens = ComponentFiles.Stage(context.App, context.Component)
                    .Select(m => new WasiPreopen(m.HostPath, m.GuestPath)).ToArray();
                return WasiHttpExecutor.Create(runtime.Engine, component, id, [.. context.Component.Environment],
                    logger, context.RequestTimeout, context.OutboundHttp, preopens, context.Variables, lanes, context.State, OutputLogger(context));
            }
            catch (Exception e) when (e is ComponentLoadException or InvalidOperationException or WasmtimeException)
            {
                throw new ExecutorCreationException($"component '{id}' ({context.Component.Source}): {e.Message}", e);
            }

            SpinInboundExecutor CreateSpinInbound(Component component) =>
                SpinInboundExecutor.Create(runtime.Engine, component, id, [.. context.Component.Environment],
                    [.. ComponentFiles.Stage(context.App, context.Component).Select(m => new WasiFileMount(m.HostPath, m.GuestPath))],
                    logger, context.OutboundHttp, context.Variables, context.State, OutputLogger(context));
        }
    }

    private static Component LoadResettable(WasmEngine engine, byte[] bytes, HostRegistry host, IProgress<string>? progress) =>
        Component.LoadResettable(engine, bytes, host, progress);

    private static Component LoadAsBuilt(WasmEngine engine, byte[] bytes, HostRegistry host, IProgress<string>? progress) =>
        Component.Load(engine, bytes, host, progress);

    private sealed class WagiFactory(WasmExecutors runtime) : IExecutorFactory
    {
        public IRequestExecutor Create(ExecutorContext context)
        {
            var id = context.Component.Id;
            var logger = context.Logging.CreateLogger("Spindle.Component." + id);
            try
            {
                var options = new WagiOptions
                {
                    Engine = runtime.Engine,
                    ComponentId = id,
                    ModuleBytes = ReadSource(context.Component),
                    CompileProgress = CompileProgress(logger, id),
                    Environment = [.. context.Component.Environment],
                    Argv = context.Executor.Argv,
                    Entrypoint = context.Executor.Entrypoint,
                    Files = [.. ComponentFiles.Stage(context.App, context.Component).Select(m => new WasiFileMount(m.HostPath, m.GuestPath))],
                    Logger = logger,
                    OutputLogger = OutputLogger(context),
                    RequestTimeout = context.RequestTimeout,
                };
                // A wasi:cli/run component gets the same CGI contract through WASI 0.2 stdio.
                return WagiComponentExecutor.IsComponent(options)
                    ? WagiComponentExecutor.Create(options, runtime._host)
                    : WagiExecutor.Create(options);
            }
            catch (Exception e) when (e is WagiLoadException or WasmtimeException)
            {
                throw new ExecutorCreationException($"component '{id}' ({context.Component.Source}): {e.Message}", e);
            }
        }
    }

    private static byte[] ReadSource(AppComponent component)
    {
        try { return File.ReadAllBytes(component.Source); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExecutorCreationException($"component '{component.Id}': cannot read source '{component.Source}': {e.Message}", e);
        }
    }
}
