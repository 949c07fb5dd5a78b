using Microsoft.Extensions.Logging;
using Spindle.Engine;
using Spindle.App.Manifest;
using Spindle.App.Model;
using Spindle.App.Variables;
using Spindle.Outbound.AllowedHosts;
using Spindle.Outbound.Http;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Routing;

namespace Spindle.Trigger.Http.Server;

/// <summary>Options of the HTTP trigger that do not come from the manifest.</summary>
public sealed class SpinHttpTriggerOptions
{
    /// <summary>Per-request deadline (<c>--request-timeout</c>); <c>null</c> = none. Past it, a request not yet answered gets 500.</summary>
    public TimeSpan? RequestTimeout { get; init; }

    /// <summary>Silence guest stdout/stderr (<c>--quiet</c>).</summary>
    public bool QuietComponentOutput { get; init; }

    /// <summary>Reset and reuse wasi:http instances between requests (<c>--instance-reuse</c>, default on); off: a fresh instance per request.</summary>
    public bool InstanceReuse { get; init; } = true;

    /// <summary>Queue bound and wait for requests arriving while the engine's instance pool is full (then 503).</summary>
    public AdmissionOptions Admission { get; init; } = new();

    /// <summary>Outbound HTTP beyond the allow-lists: pooling, connection limit, blocked networks, client TLS, chain depth.</summary>
    public OutboundHttpOptions Outbound { get; init; } = new();

    /// <summary>The application's key-value stores and SQLite databases (null: no component can open one). The application does not own them.</summary>
    public Spindle.Spin.ApplicationState? State { get; init; }
}

/// <summary>
/// A Spin application ready to serve HTTP: router, per-component executors, static responses, allow-lists.
/// Built once at startup (every error surfaces here, naming file/key/value), then shared by all requests.
/// </summary>
public sealed class SpinHttpApplication : IAsyncDisposable
{
    private readonly Dictionary<string, IRequestExecutor> _executors;
    private readonly Dictionary<string, StaticResponse> _static;
    private readonly Dictionary<string, HttpTrigger> _triggersByComponent;

    private SpinHttpApplication(SpinApp app, Router router, VariableResolver variables,
        IReadOnlyDictionary<string, OutboundAllowList> outbound, Dictionary<string, IRequestExecutor> executors,
        Dictionary<string, StaticResponse> statics, Dictionary<string, HttpTrigger> triggersByComponent, SpinHttpTriggerOptions options,
        OutboundDispatcher dispatcher)
    {
        Outbound = dispatcher;
        App = app;
        Router = router;
        Variables = variables;
        OutboundHosts = outbound;
        Options = options;
        _executors = executors;
        _static = statics;
        _triggersByComponent = triggersByComponent;
    }

    /// <summary>The application model.</summary>
    public SpinApp App { get; }

    /// <summary>The router (routes in precedence order).</summary>
    public Router Router { get; }

    /// <summary>Variable resolution for components.</summary>
    public VariableResolver Variables { get; }

    /// <summary>Each component's allow-list.</summary>
    public IReadOnlyDictionary<string, OutboundAllowList> OutboundHosts { get; }

    /// <summary>Trigger options.</summary>
    public SpinHttpTriggerOptions Options { get; }

    /// <summary>
    /// The application's outbound HTTP (connection pools, chaining, self-requests). The host sets
    /// <see cref="OutboundDispatcher.Self"/> once the listener is bound.
    /// </summary>
    public OutboundDispatcher Outbound { get; }

    /// <summary>
    /// Prepares the application. 1. check every component's allow-list; 2. build the router from the non-private
    /// routes (a bad route is a <see cref="ManifestException"/> at its <c>trigger.http[i].route</c>); 3. create one
    /// executor per component through <paramref name="executors"/>; 4. log warnings (duplicates, reserved routes).
    /// </summary>
    /// <exception cref="ManifestException">A route or allow-list entry is invalid.</exception>
    /// <exception cref="ExecutorCreationException">A component cannot be run.</exception>
    public static SpinHttpApplication Create(SpinApp app, VariableResolver variables, ExecutorFactoryRegistry executors,
        ILoggerFactory logging, SpinHttpTriggerOptions? options = null)
    {
        options ??= new SpinHttpTriggerOptions();
        var log = logging.CreateLogger("Spindle.Trigger.Http");
        foreach (var w in app.Warnings) log.ManifestWarning(w);

        var outbound = ComponentOutboundPolicy.Build(app);

        var definitions = new List<RouteDefinition>();
        var statics = new Dictionary<string, StaticResponse>(StringComparer.Ordinal);
        var byComponent = new Dictionary<string, HttpTrigger>(StringComparer.Ordinal);
        foreach (var t in app.HttpTriggers)
        {
            var target = t.ComponentId ?? t.Id;
            if (t.StaticResponse is not null) statics[target] = t.StaticResponse;
            else byComponent.TryAdd(t.ComponentId!, t);
            if (t.Route.IsPrivate) continue;
            try
            {
                RoutePattern.Parse(app.HttpBase, t.Route.Pattern!, target);
            }
            catch (RouteException e)
            {
                var key = $"trigger.http[{t.Index}].route";
                throw new ManifestException(app.ManifestPath, key, "\"" + t.Route.Pattern + "\"", app.LocationOf(key), e.Message, e);
            }
            definitions.Add(new RouteDefinition(target, t.Route.Pattern!));
        }
        var router = Router.Build(app.HttpBase, definitions);
        if (router.Duplicates.Count > 0)
            log.DuplicateRoutes(string.Join("; ", router.Duplicates.Select(d => $"'{d.Replaced}' (route '{d.Route}', replaced by '{d.Effective}')")));
        foreach (var r in router.UnreachableReserved)
            log.ReservedRoute(r.Pattern.Raw, r.Target);

        var created = new Dictionary<string, IRequestExecutor>(StringComparer.Ordinal);
        OutboundDispatcher dispatcher;
        try
        {
            dispatcher = new OutboundDispatcher(options.Outbound, logging.CreateLogger("Spindle.Outbound"));
        }
        catch (OutboundConfigurationException e)
        {
            throw new ExecutorCreationException(e.Message, e);
        }
        try
        {
            foreach (var (componentId, trigger) in byComponent)
            {
                created[componentId] = executors.Create(new ExecutorContext
                {
                    App = app,
                    Component = app.Components[componentId],
                    Trigger = trigger,
                    Variables = variables,
                    OutboundHosts = outbound[componentId],
                    OutboundHttp = dispatcher.ForComponent(componentId, outbound[componentId], variables),
                    State = options.State?.ForComponent(componentId),
                    QuietComponentOutput = options.QuietComponentOutput,
                    InstanceReuse = options.InstanceReuse,
                    // No RequestTimeout: the trigger owns each request's deadline and hands it over as InboundRequest.Aborted.
                    Logging = logging,
                });
                CheckFitsPool(componentId, created[componentId]);
            }
        }
        catch
        {
            foreach (var e in created.Values) (e as IDisposable)?.Dispose();
            dispatcher.Dispose();
            throw;
        }
        return new SpinHttpApplication(app, router, variables, outbound, created, statics, byComponent, options, dispatcher);
    }

    /// <summary>A component whose one request needs more core instances than the pool holds could never run: refuse it at load.</summary>
    private static void CheckFitsPool(string componentId, IRequestExecutor executor)
    {
        if (executor is not IPooledExecutor pooled) return;
        var capacity = PoolCapacity.Of(pooled.Engine);
        if (pooled.CoreInstancesPerRequest > capacity)
            throw new ExecutorCreationException(
                $"component '{componentId}' needs {pooled.CoreInstancesPerRequest} core instances per request, but the engine's instance pool holds only {capacity}");
    }

    /// <summary>The executor of a component (also the target of service chaining), if it has an HTTP trigger.</summary>
    public IRequestExecutor? GetExecutor(string componentId) => _executors.GetValueOrDefault(componentId);

    /// <summary>The trigger that runs a component, if any.</summary>
    public HttpTrigger? GetTrigger(string componentId) => _triggersByComponent.GetValueOrDefault(componentId);

    internal StaticResponse? GetStaticResponse(string target) => _static.GetValueOrDefault(target);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var e in _executors.Values)
        {
            if (e is IAsyncDisposable ad) await ad.DisposeAsync();
            else (e as IDisposable)?.Dispose();
        }
        Outbound.Dispose();
    }
}
