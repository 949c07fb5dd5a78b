using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Spindle.Engine;
using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.App.Variables;
using Spindle.Spin;
using Spindle.Trigger.Http.Routing;
using Spindle.Trigger.Http.Spin;
using Spindle.Trigger.Http.Telemetry;
using Spindle.Wasi;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview2.Filesystem;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors.WasiHttp;

/// <summary>
/// Runs a component exporting <c>wasi:http/incoming-handler@0.2.x</c>: one fresh store and instance per request
/// (as Spin does for WASI 0.2), the request streamed in, the response streamed out as the guest writes it.
/// </summary>
public sealed class WasiHttpExecutor : IPooledExecutor
{
    /// <summary>The export every wasi:http 0.2 guest provides (any 0.2 patch version matches).</summary>
    public const string HandlerInterface = "wasi:http/incoming-handler@" + WasiHost.Version;

    private readonly WasmEngine _engine;
    private readonly Component _component;
    private readonly ComponentExport _handle;
    private readonly string _componentId;
    private readonly IReadOnlyList<KeyValuePair<string, string>> _environment;
    private readonly ILogger _logger;
    private readonly ILogger _outputLogger;
    private readonly TimeSpan? _timeout;
    private readonly OutboundHttpHandler? _outbound;
    private readonly IReadOnlyList<WasiPreopen> _preopens;
    private readonly VariableResolver? _variables;
    private readonly ComponentState? _state;
    private readonly HotRoute[] _lanes;

    /// <summary>The component's warm instances on a <see cref="HotLane"/>, and its handle export there.</summary>
    private sealed record HotRoute(HotLane Lane, HotLane.WarmInstances Instances, ComponentExport Handle);

    private WasiHttpExecutor(WasmEngine engine, Component component, ComponentExport handle, string componentId,
        IReadOnlyList<KeyValuePair<string, string>> environment, ILogger logger, TimeSpan? timeout, OutboundHttpHandler? outbound,
        IReadOnlyList<WasiPreopen>? preopens, VariableResolver? variables, HotRoute[] lanes, ComponentState? state, ILogger? outputLogger)
    {
        _outputLogger = outputLogger ?? logger;
        _lanes = lanes;
        _state = state;
        _variables = variables;
        _preopens = preopens ?? [];
        _engine = engine;
        _component = component;
        _handle = handle;
        _componentId = componentId;
        _environment = environment;
        _logger = logger;
        _timeout = timeout;
        _outbound = outbound;
    }

    /// <summary>
    /// The engine admission control counts this component's requests against: its last (largest)
    /// <see cref="HotLane"/>'s when it has lanes. Admitting no more requests than that lane holds means a request
    /// always finds a warm instance or room for one on a lane (evicting idle instances of other components), and
    /// waits in the admission queue otherwise, which costs nothing, instead of paying a fresh instantiation on the
    /// main engine (2.5 ms of CPU and 10 MB of page faults for JavaScript) at the moment the server is busiest.
    /// </summary>
    public WasmEngine Engine => _lanes.Length > 0 ? _lanes[^1].Lane.Engine : _engine;

    /// <inheritdoc />
    public int CoreInstancesPerRequest => Math.Max(1, _component.CoreInstanceCount);

    /// <summary>The component id (used in logs and stdout/stderr tags).</summary>
    public string ComponentId => _componentId;

    /// <summary>The component's instances on its first <see cref="HotLane"/> (null without one): how many requests ran there, how many on a reset instance.</summary>
    public HotLane.WarmInstances? HotInstances => _lanes.Length > 0 ? _lanes[0].Instances : null;


    /// <summary>
    /// Creates an executor for a loaded component.
    /// </summary>
    /// <param name="engine">The engine the component was loaded into.</param>
    /// <param name="component">The component; it must export <c>wasi:http/incoming-handler@0.2.x</c>.</param>
    /// <param name="componentId">The component id.</param>
    /// <param name="environment">What <c>wasi:cli/environment.get-environment</c> returns.</param>
    /// <param name="logger">Receives guest stdout/stderr and failures.</param>
    /// <param name="requestTimeout">Deadline for one request (guest CPU and waits); null for none.</param>
    /// <param name="outbound">Sends outbound requests; null denies them (<c>HTTP-request-denied</c>).</param>
    /// <param name="preopens">Read-only directories the guest sees through <c>wasi:filesystem/preopens</c> (the component's file mounts).</param>
    /// <param name="variables">What the Spin variables interfaces resolve through (null: they answer <c>other</c>).</param>
    /// <param name="lanes">The same component loaded into <see cref="HotLane"/> engines (<see cref="Component.LoadResettable"/>, or as built for fresh instances): requests run on warm instances of the first lane with room, in order.</param>
    /// <param name="state">The key-value stores and SQLite databases the component may open (null: none).</param>
    /// <param name="outputLogger">Receives the guest's stdout and stderr lines (<see cref="GuestOutput"/>); null: <paramref name="logger"/>.</param>
    /// <exception cref="InvalidOperationException">The component has no <c>handle</c> export of the right interface.</exception>
    public static WasiHttpExecutor Create(WasmEngine engine, Component component, string componentId,
        IReadOnlyList<KeyValuePair<string, string>> environment, ILogger logger, TimeSpan? requestTimeout = null,
        OutboundHttpHandler? outbound = null, IReadOnlyList<WasiPreopen>? preopens = null, VariableResolver? variables = null,
        IReadOnlyList<(HotLane Lane, Component Component)>? lanes = null, ComponentState? state = null, ILogger? outputLogger = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(component);
        var handle = FindHandle(component, componentId);
        var routes = (lanes ?? []).Select(l => new HotRoute(l.Lane, l.Lane.Register(l.Component), FindHandle(l.Component, componentId))).ToArray();
        if (lanes is [{ Component.ResetBlocker: { } blocker }, ..])
            logger.FreshInstancePerRequest(componentId, blocker);
        return new WasiHttpExecutor(engine, component, handle, componentId, environment, logger, requestTimeout, outbound, preopens, variables, routes, state, outputLogger);
    }

    private static ComponentExport FindHandle(Component component, string componentId) =>
        component.FindExport(HandlerInterface, "handle")
        ?? throw new InvalidOperationException($"component '{componentId}' does not export wasi:http/incoming-handler@0.2.x#handle (exports: {string.Join(", ", component.Exports)})");

    /// <summary>Loads <paramref name="wasm"/> against <paramref name="host"/> (default: every WASI interface and Spin's variables and key-value interfaces) and creates an executor.</summary>
    public static WasiHttpExecutor Load(WasmEngine engine, ReadOnlySpan<byte> wasm, string componentId,
        IReadOnlyList<KeyValuePair<string, string>> environment, ILogger logger, TimeSpan? requestTimeout = null,
        OutboundHttpHandler? outbound = null, IReadOnlyList<WasiPreopen>? preopens = null, HostRegistry? host = null,
        IProgress<string>? progress = null, VariableResolver? variables = null)
    {
        var component = Component.Load(engine, wasm, host ?? SpinExecutors.CreateHostRegistry(), progress);
        return Create(engine, component, componentId, environment, logger, requestTimeout, outbound, preopens, variables);
    }

    /// <summary>
    /// Handles one request:
    /// 1. creates the per-request <see cref="WasiHttpContext"/>; takes a warm instance from the <see cref="HotLane"/>
    ///    (or room there for a new one), else a fresh store on the main engine; sets the epoch deadline;
    /// 2. instantiates the component if needed and calls <c>handle(incoming-request, response-outparam)</c>;
    /// 3. once the guest has set its response, status, headers and body go to Kestrel whenever the guest waits
    ///    or returns, and the body streams from then on (see <see cref="KestrelExchange"/>);
    /// 4. after the call, resets a warm instance whose guest returned for the next request, or else disposes the
    ///    instance and the store (either way an unfinished body is aborted), then waits for the body to drain.
    ///    A fault before the response was sent → 500 empty; after → the response is aborted.
    /// </summary>
    public async Task ExecuteAsync(InboundRequest request)
    {
        using var linked = Cancellation(request, _timeout, out var cancellation);
        var context = new SpinWasiHttpContext
        {
            Variables = _variables,
            KeyValue = _state?.KeyValue,
            Sqlite = _state?.Sqlite,
            ComponentId = _componentId,
            Environment = _environment,
            Logger = _outputLogger,
            Cancellation = cancellation,
            Outbound = _outbound,
            Preopens = _preopens,
            InboundScheme = request.Scheme,
            ChainDepth = request.ChainDepth,
        };
        var exchange = new KestrelExchange(request, _componentId, _logger);
        Exception? fault = null;
        HotLane.WarmInstance? warm = null;
        HotRoute? lane = null;
        try
        {
            foreach (var route in _lanes)
                if ((warm = await route.Instances.RentAsync(cancellation).ConfigureAwait(false)) is not null)
                {
                    lane = route;
                    break;
                }
        }
        catch (OperationCanceledException)
        {
            _logger.NoInstanceInTime(_componentId, request.Describe());
            TriggerTelemetry.GuestFailed(_componentId, null, timedOut: true);
            context.Dispose();
            await exchange.CompleteAsync(new TimeoutException("no instance was free in time")).ConfigureAwait(false);
            return;
        }
        var (engine, component, handle) = lane is null ? (_engine, _component, _handle) : (lane.Lane.Engine, lane.Instances.Component, lane.Handle);
        var instance = warm?.Instance;
        // Cancelling the store abandons a call stuck in a host wait (the deadline passed); the store is then dropped.
        var store = warm?.Store ?? new WasmStore(engine, context);
        store.CancellationToken = cancellation;
        store.WaitObserver = request.WaitObserver;
        store.Suspending = exchange.Send;
        var returned = false;
        try
        {
            // A busy guest yields every epoch tick: it cannot hold a thread Kestrel or another request needs, and
            // the request's deadline (wall-clock, in the cancellation) is checked at each slice.
            store.ShareCpu();
            TriggerTelemetry.InstanceUsed(_componentId, reused: instance is not null);
            if (instance is not null) instance.Rebind(context, cancellation);
            else
            {
                warm?.Begin(store);
                instance = await component.InstantiateAsync(store, context, cancellation).ConfigureAwait(false);
                warm?.Created(instance);
            }
            await instance.CallAsync(handle, exchange.Request, exchange.Outparam).ConfigureAwait(false);
            exchange.GuestReturned();
            returned = true;
        }
        catch (Exception e) when (context.ExitStatus == 0 && exchange.ResponseSet)
        {
            // wasi:cli/exit(ok) after the response was set ends the guest without error.
            _logger.GuestExited(e, _componentId);
            exchange.GuestReturned();
        }
        catch (Exception e)
        {
            fault = e;
            // The one line for this failure (the trigger logs nothing more).
            var when = !cancellation.IsCancellationRequested ? ""
                : request.Http.RequestAborted.IsCancellationRequested ? ", the client went away and it did not finish" : ", request timeout";
            _logger.GuestFailed(_componentId, request.Describe(), when, e.Message);
            if (!request.Http.RequestAborted.IsCancellationRequested)
                TriggerTelemetry.GuestFailed(_componentId, e, timedOut: cancellation.IsCancellationRequested);
        }
        finally
        {
            if (warm is not null) warm.Finish(returned); // reset for the next request, or discarded
            else
            {
                instance?.Dispose();
                store.Dispose();
            }
            context.Dispose();
        }
        await exchange.CompleteAsync(fault).ConfigureAwait(false);
    }

    /// <summary>
    /// The request's cancellation: its deadline (<see cref="InboundRequest.Aborted"/>, which also covers a client
    /// gone for longer than the trigger's grace) and this executor's own timeout, if any (a linked source only then).
    /// </summary>
    private static CancellationTokenSource? Cancellation(InboundRequest request, TimeSpan? timeout, out CancellationToken token)
    {
        if (timeout is not { } t)
        {
            token = request.Aborted;
            return null;
        }
        var source = CancellationTokenSource.CreateLinkedTokenSource(request.Aborted);
        source.CancelAfter(t);
        token = source.Token;
        return source;
    }

    /// <summary>
    /// Serves <paramref name="http"/> directly, without a router (a <c>spindle serve</c>-style single component at
    /// every path): the route is <c>/...</c> and the <c>spin-*</c> headers are derived from the request.
    /// </summary>
    public Task ServeAsync(HttpContext http)
    {
        var request = http.Request;
        var rawTarget = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
        var pathAndQuery = rawTarget is { Length: > 0 } && rawTarget[0] == '/' ? rawTarget : request.Path.ToUriComponent() + request.QueryString.ToUriComponent();
        var path = pathAndQuery.Split('?', 2)[0];
        var host = request.Host.HasValue ? request.Host.Value : "localhost";
        var fullUrl = $"{request.Scheme}://{host}{pathAndQuery}";
        var client = $"{http.Connection.RemoteIpAddress?.ToString() ?? "0.0.0.0"}:{http.Connection.RemotePort}";
        var route = new RouteMatch(_componentId, "/...", "/...", "", path, "/", []);
        return ExecuteAsync(new InboundRequest
        {
            Http = http,
            Route = route,
            FullUrl = fullUrl,
            ClientAddr = client,
            SpinHeaders =
            [
                new("spin-full-url", fullUrl),
                new("spin-path-info", path),
                new("spin-matched-route", "/..."),
                new("spin-raw-component-route", "/..."),
                new("spin-component-route", ""),
                new("spin-base-path", "/"),
                new("spin-client-addr", client),
            ],
            // Without the trigger (and its grace for a client that left), the client going away cancels the guest.
            Aborted = http.RequestAborted,
        });
    }
}
