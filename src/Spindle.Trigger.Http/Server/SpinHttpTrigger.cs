using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Net.Http.Headers;
using Spindle.App.Model;
using Spindle.Outbound.AllowedHosts;
using Spindle.Outbound.Http;
using Spindle.Trigger.Http.Chaining;
using Spindle.Wasi.Http;
using Spindle.Trigger.Http.Executors;
using Spindle.Wasmtime;
using Spindle.Trigger.Http.Routing;

namespace Spindle.Trigger.Http.Server;

/// <summary>
/// The inbound HTTP pipeline of a Spin application, as ASP.NET Core terminal middleware (spec §1):
/// 1. header hygiene (drop <c>Connection</c>, drop a <c>*.spin.internal</c> <c>Host</c>);
/// 2. take the raw, still-encoded path; 3. answer <c>/.well-known/spin/*</c> itself; 4. route (no match → 404);
/// 5. no <c>Host</c> at all → connection dropped, as Spin; 6. static response, or 7. the component's executor,
/// with the <c>spin-*</c> headers (a declared <c>Content-Length</c> over the request-body limit is a 413 instead).
/// A failure before the response starts is a 500 with an empty body, or the client's 4xx when its request body
/// could not be read (malformed, too large).
/// </summary>
public sealed class SpinHttpTrigger : ILocalServiceChain
{
    private readonly SpinHttpApplication _app;
    private readonly ILogger _log;
    private readonly byte[] _infoJson;
    private readonly RequestAdmission _admission;

    /// <summary>Creates the trigger for a prepared application.</summary>
    public SpinHttpTrigger(SpinHttpApplication app, ILogger<SpinHttpTrigger>? logger = null)
    {
        _app = app;
        _log = (ILogger?)logger ?? NullLogger.Instance;
        _infoJson = AppInfoJson(app.App);
        _admission = new RequestAdmission(app.Options.Admission);
        app.Outbound.Chain ??= this;
    }

    /// <summary>Handles one request (usable as a <see cref="RequestDelegate"/>).</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var originalHost = request.Headers.Host.ToString();
        var hadHost = originalHost.Length > 0;
        request.Headers.Remove(HeaderNames.Connection);
        if (hadHost && IsSpinInternalHost(originalHost))
            request.Headers.Remove(HeaderNames.Host);

        var (path, _) = RawRequestTarget.RawPathAndQuery(context);

        if (path.StartsWith(Router.ReservedPrefix, StringComparison.Ordinal))
        {
            await RespondReservedAsync(context, path);
            return;
        }

        var match = _app.Router.Match(path);
        if (match is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!hadHost)
        {
            // Spin cannot build the request URI without an authority and drops the connection without a response.
            _log.LogDebug("Request for {Path} has no Host header; closing the connection", path);
            context.Abort();
            return;
        }

        if (_app.GetStaticResponse(match.ComponentId) is { } fixedResponse)
        {
            await RespondStaticAsync(context, fixedResponse);
            return;
        }

        var executor = _app.GetExecutor(match.ComponentId);
        if (executor is null)
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return;
        }

        if (RequestBody.DeclaredTooLarge(context, out var limit))
        {
            // Reading it would fail at once: no guest runs for a body it could never read whole.
            _log.LogInformation("Request for {Path}: Content-Length {Length} is over the {Limit}-byte request body limit; answering 413",
                path, context.Request.ContentLength, limit);
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            context.Response.ContentLength = 0;
            return;
        }

        // spin-full-url and spin-client-addr are computed from the context if the guest asks for them.
        await ExecuteAsync(context, executor, match, chained: null);
    }

    /// <summary>
    /// Runs a service-chained request (<c>http://&lt;id&gt;.spin.internal/...</c>) in-process, bypassing the router
    /// (spec §8): private components are reachable; the component sees route <c>/...</c>, the full path as
    /// <c>spin-path-info</c>, client <c>0.0.0.0:0</c> and scheme <c>http</c>. The caller builds
    /// <paramref name="context"/> (e.g. a <see cref="DefaultHttpContext"/> whose response body it reads).
    /// </summary>
    /// <exception cref="InvalidOperationException">No HTTP-triggered component <paramref name="componentId"/>.</exception>
    public Task ExecuteChainedAsync(HttpContext context, string componentId) => ExecuteChainedAsync(context, componentId, 1, "http");

    private async Task ExecuteChainedAsync(HttpContext context, string componentId, int depth, string scheme)
    {
        // Guests build their URL from the request's authority (JavaScript traps without one): the target's name.
        var authority = context.Request.Host.HasValue ? context.Request.Host.Value : $"{componentId}.spin.internal";
        context.Request.Headers.Remove(HeaderNames.Host);
        context.Request.Headers.Remove(HeaderNames.Connection);
        var (path, pathAndQuery) = RawRequestTarget.RawPathAndQuery(context);
        if (_app.GetStaticResponse(componentId) is { } fixedResponse)
        {
            await RespondStaticAsync(context, fixedResponse);
            return;
        }
        var executor = _app.GetExecutor(componentId)
            ?? throw new InvalidOperationException($"component '{componentId}' has no HTTP trigger and cannot be reached by service chaining");
        var match = _app.Router.ChainedMatch(componentId, path);
        await ExecuteAsync(context, executor, match, new ChainedCall(SpinRequestHeaders.ComputeFullUrl("http", null, pathAndQuery), depth, scheme, authority));
    }

    /// <summary>
    /// <see cref="ILocalServiceChain"/>: runs the callee on the thread pool (never on the caller's fiber) with an
    /// in-memory exchange; the caller's admission covers its chain, so a callee never queues behind the very slot
    /// its caller holds (if the instance pool has no room left the callee fails fast with a 500 instead).
    /// </summary>
    Task<IncomingResponse> ILocalServiceChain.SendAsync(string componentId, OutgoingRequest request, int chainDepth, string? inboundScheme,
        CancellationToken cancellation)
    {
        if (_app.GetStaticResponse(componentId) is null && _app.GetExecutor(componentId) is null)
        {
            _log.LogWarning("Service chaining to '{Component}': no such HTTP component in the application", componentId);
            throw new HttpErrorCodeException(HttpErrorCode.Of("destination-not-found"), $"no HTTP component '{componentId}' to chain to");
        }
        var exchange = new ChainedExchange(request, cancellation);
        _ = Task.Run(async () =>
        {
            try
            {
                await ExecuteChainedAsync(exchange.Http, componentId, chainDepth, inboundScheme ?? "http");
                await exchange.CompleteAsync();
            }
            catch (Exception e)
            {
                exchange.Fail(e);
            }
        }, CancellationToken.None);
        return exchange.Response;
    }

    /// <summary>What a chained request carries instead of a client connection.</summary>
    private sealed record ChainedCall(string FullUrl, int Depth, string Scheme, string Authority);

    private async Task ExecuteAsync(HttpContext context, IRequestExecutor executor, RouteMatch match, ChainedCall? chained)
    {
        // The one deadline of the request, owned here and started when the request arrives (time spent waiting for
        // admission counts): the request timeout; for a chained call, its caller's cancellation (the chained
        // context's RequestAborted); for a client's request, ClientGoneGrace after the client went away. The grace
        // lets a guest whose client left finish as in Spin (its body reads and writes fail, it returns) so its warm
        // instance serves the next request instead of being discarded: a load balancer or client dropping a
        // thousand connections would otherwise cost a thousand fresh instantiations at once. A guest that does not
        // finish within it (a loop) is stopped, as before.
        using var requestDeadline = new RequestDeadline(_app.Options.RequestTimeout, context.RequestAborted, chained is not null);
        var deadline = requestDeadline.Token;
        if (executor is not IPooledExecutor pooled || chained is not null)
        {
            await ExecuteAdmittedAsync(context, executor, match, chained, deadline, null);
            return;
        }
        using var admission = await _admission.EnterAsync(pooled, deadline, context.RequestAborted);
        if (admission is null)
        {
            RefuseBusy(context, match.ComponentId);
            return;
        }
        // The admission is released only after the executor returned, i.e. after its store (and instances) are gone.
        await ExecuteAdmittedAsync(context, executor, match, chained, deadline, admission);
    }

    /// <summary>How long a guest may go on after its client went away (see <see cref="RequestDeadline"/>).</summary>
    internal static readonly TimeSpan ClientGoneGrace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A request's deadline: cancelled when the request timeout passes; for a chained call, as soon as its caller
    /// gives up; for a client's request, <see cref="ClientGoneGrace"/> after the client went away (or at the
    /// timeout, if sooner).
    /// </summary>
    private sealed class RequestDeadline : IDisposable
    {
        private readonly CancellationTokenSource _source;
        private readonly CancellationTokenRegistration _clientGone;
        private readonly long _timeoutAt;

        public RequestDeadline(TimeSpan? timeout, CancellationToken clientGone, bool chained)
        {
            _source = chained ? CancellationTokenSource.CreateLinkedTokenSource(clientGone) : new CancellationTokenSource();
            _timeoutAt = timeout is { } t ? Environment.TickCount64 + (long)t.TotalMilliseconds : long.MaxValue;
            if (timeout is { } limit) _source.CancelAfter(limit);
            if (!chained) _clientGone = clientGone.UnsafeRegister(static d => ((RequestDeadline)d!).ClientLeft(), this);
        }

        public CancellationToken Token => _source.Token;

        private void ClientLeft()
        {
            var left = Math.Min((long)ClientGoneGrace.TotalMilliseconds, _timeoutAt - Environment.TickCount64);
            try { _source.CancelAfter(TimeSpan.FromMilliseconds(Math.Max(0, left))); }
            catch (ObjectDisposedException) { } // the request ended meanwhile
        }

        public void Dispose()
        {
            _clientGone.Dispose();
            _source.Dispose();
        }
    }

    /// <summary>503 + <c>Retry-After</c>: the component could not run the request in time (queue full, queue timeout or deadline passed).</summary>
    private void RefuseBusy(HttpContext context, string componentId)
    {
        if (context.RequestAborted.IsCancellationRequested) return;
        _log.LogDebug("Component '{Component}': no room in time, answering 503", componentId);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = _admission.RetryAfterHeader;
        context.Response.ContentLength = 0;
    }

    private async Task ExecuteAdmittedAsync(HttpContext context, IRequestExecutor executor, RouteMatch match, ChainedCall? chained,
        CancellationToken deadline, IGuestWaitObserver? waitObserver)
    {
        var inbound = chained is { } c
            ? new InboundRequest
            {
                Http = context, Route = match, Aborted = deadline, FullUrl = c.FullUrl, ClientAddr = "0.0.0.0:0",
                ChainDepth = c.Depth, Scheme = c.Scheme, Authority = c.Authority,
            }
            : new InboundRequest { Http = context, Route = match, Aborted = deadline, WaitObserver = waitObserver };
        try
        {
            await executor.ExecuteAsync(inbound);
            // The executor logged the failure and answered 500 (or aborted the response); this only makes sure.
            if (deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
                Fail(context);
        }
        catch (Exception e)
        {
            if (deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
                _log.LogError("Component '{Component}' exceeded the request timeout", match.ComponentId);
            else
                _log.LogError(e, "Component '{Component}' failed", match.ComponentId);
            Fail(context, e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError);
        }
    }

    /// <summary>500 (or the client's error) with an empty body if nothing was sent yet; otherwise the response is cut short.</summary>
    private static void Fail(HttpContext context, int status = StatusCodes.Status500InternalServerError)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }
        context.Response.Clear();
        context.Response.StatusCode = status;
    }

    private async Task RespondReservedAsync(HttpContext context, string path)
    {
        var response = context.Response;
        switch (path[Router.ReservedPrefix.Length..])
        {
            case "health":
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentLength = 2;
                await response.Body.WriteAsync("OK"u8.ToArray(), context.RequestAborted);
                break;
            case "info":
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "application/json";
                response.ContentLength = _infoJson.Length;
                await response.Body.WriteAsync(_infoJson, context.RequestAborted);
                break;
            default:
                response.StatusCode = StatusCodes.Status404NotFound;
                break;
        }
    }

    private static async Task RespondStaticAsync(HttpContext context, StaticResponse fixedResponse)
    {
        var response = context.Response;
        response.StatusCode = fixedResponse.StatusCode;
        foreach (var (name, value) in fixedResponse.Headers)
            response.Headers.Append(name, value);
        var body = Encoding.UTF8.GetBytes(fixedResponse.Body);
        response.ContentLength = body.Length;
        if (body.Length > 0 && !Microsoft.AspNetCore.Http.HttpMethods.IsHead(context.Request.Method))
            await response.Body.WriteAsync(body, context.RequestAborted);
    }

    /// <summary><c>&lt;label&gt;.spin.internal[:port]</c>: a chaining Host that must not reach the component.</summary>
    internal static bool IsSpinInternalHost(string host)
    {
        var h = host;
        var colon = h.LastIndexOf(':');
        if (colon > 0 && !h.EndsWith(']')) h = h[..colon];
        return ServiceChaining.TargetOfHost(h.ToLowerInvariant()) is not null;
    }


    private static byte[] AppInfoJson(SpinApp app)
    {
        var info = new Dictionary<string, string> { ["name"] = app.Name };
        if (app.Version is not null) info["version"] = app.Version;
        return JsonSerializer.SerializeToUtf8Bytes(info, new JsonSerializerOptions { WriteIndented = true });
    }
}

/// <summary>Wiring helpers for ASP.NET Core applications.</summary>
public static class SpinHttpTriggerExtensions
{
    /// <summary>Ends the pipeline with the Spin application: every request that gets here is routed as Spin does.</summary>
    public static IApplicationBuilder RunSpinApplication(this IApplicationBuilder builder, SpinHttpApplication app, ILogger<SpinHttpTrigger>? logger = null)
    {
        var trigger = new SpinHttpTrigger(app, logger);
        builder.Run(trigger.HandleAsync);
        return builder;
    }

    /// <summary>
    /// Maps the Spin application as an endpoint (default: every path, lowest precedence), so an ASP.NET Core
    /// application keeps its own endpoints and hands everything else to Spin's router.
    /// </summary>
    public static IEndpointConventionBuilder MapSpinApplication(this IEndpointRouteBuilder endpoints, SpinHttpApplication app,
        string pattern = "/{**spinPath}", ILogger<SpinHttpTrigger>? logger = null)
    {
        var trigger = new SpinHttpTrigger(app, logger);
        return endpoints.Map(pattern, trigger.HandleAsync).WithDisplayName("Spin application " + app.App.Name);
    }
}
