using Microsoft.Extensions.Logging;
using Spindle.App.Model;
using Spindle.Components;
using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Engine;
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
/// The executor factories over a <see cref="SpindleEngine"/>: wasi:http components and Spin's first-generation modules
/// (<see cref="ExecutorKind.Http"/>), Wagi modules (<see cref="ExecutorKind.Wagi"/>), and the host interfaces every
/// component is checked against (WASI 0.2, Spin's variables, key-value and SQLite).
/// </summary>
public static class SpinExecutors
{
    private static readonly HostRegistry Host = CreateHostRegistry();

    /// <summary>The interfaces components are checked against: WASI 0.2, Spin's variables, key-value and SQLite interfaces, and Spin's first-generation (unversioned) interfaces.</summary>
    public static HostRegistry CreateHostRegistry() =>
        LegacySpinModule.AddInterfaces(Spindle.Spin.Sqlite.SqliteInterfaces.AddTo(Spindle.Spin.KeyValue.KeyValueInterfaces.AddTo(SpinVariablesInterfaces.AddTo(WasiHost.CreateRegistry()))));

    /// <summary>A registry with both factories over <paramref name="engine"/> (which the caller keeps owning), for <c>spindle up</c>, hosts and tests.</summary>
    public static ExecutorFactoryRegistry CreateRegistry(this SpindleEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var registry = new ExecutorFactoryRegistry();
        registry.Add(ExecutorKind.Http, new ComponentFactory(engine));
        registry.Add(ExecutorKind.Wagi, new WagiFactory(engine));
        return registry;
    }

    /// <summary>The logger of a component's guest output: its own category (<see cref="GuestOutput.Category"/>), apart from the host's messages about it.</summary>
    private static ILogger OutputLogger(ExecutorContext context) => context.Logging.CreateLogger(GuestOutput.Category(context.Component.Id));

    private static IProgress<string> CompileProgress(ILogger logger, string componentId) =>
        new Progress<string>(message => logger.CompileProgress(componentId, message));

    private sealed class ComponentFactory(SpindleEngine runtime) : IExecutorFactory
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
                    return CreateSpinInbound(LegacySpinModule.Load(runtime.Engine, bytes, Host, CompileProgress(logger, id)));

                // Both loads prepare the modules for reset (extra exports only), so they compile the same bytes and the
                // second finds the artifacts in the cache (the engines differ only in pool settings).
                // With instance reuse off (--instance-reuse off) the modules are loaded as built, so their instances
                // have no reset point (Component.ResetBlocker): every request gets a fresh instance, as in Spin. They
                // still run on the hot lane while it has room: its slots stay resident, so a fresh JavaScript instance
                // there costs one copy of the written pages, where the main pool faults its 10 MB image in page by
                // page (JS hello, reuse off: 1.1–1.4k req/s on the lane against 0.25–0.44k without it, README.md
                // "Instance reuse"; 2.2–2.9k against 0.6–0.8k in bench/README.md's "hot lane" row).
                Func<WasmEngine, byte[], HostRegistry, IProgress<string>?, Component> load = context.InstanceReuse ? LoadResettable : LoadAsBuilt;
                var component = load(runtime.Engine, bytes, Host, CompileProgress(logger, id));
                if (SpinInboundExecutor.Serves(component) && component.FindExport(WasiHttpExecutor.HandlerInterface, "handle") is null)
                    return CreateSpinInbound(component);
                var lanes = runtime.Lanes.Select(lane => (lane, load(lane.Engine, bytes, Host, null))).ToArray();
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

    private sealed class WagiFactory(SpindleEngine runtime) : IExecutorFactory
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
                    ? WagiComponentExecutor.Create(options, Host)
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
