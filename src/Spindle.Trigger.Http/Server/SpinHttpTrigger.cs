using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Net.Http.Headers;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Routing;
using Spindle.Trigger.Http.Telemetry;
using Spindle.Wasmtime;

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
public sealed partial class SpinHttpTrigger
{
    private readonly SpinHttpApplication _app;
    private readonly ILogger _log;
    private readonly ReservedResponses _reserved;
    private readonly RequestAdmission _admission;

    /// <summary>Creates the trigger for a prepared application.</summary>
    public SpinHttpTrigger(SpinHttpApplication app, ILogger<SpinHttpTrigger>? logger = null)
    {
        _app = app;
        _log = (ILogger?)logger ?? NullLogger.Instance;
        _reserved = new ReservedResponses(app.App);
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
        if (hadHost && SpinInternalHost.Matches(originalHost))
            request.Headers.Remove(HeaderNames.Host);

        var (path, _) = RawRequestTarget.RawPathAndQuery(context);
        // Mounted under a prefix in a larger application: route the path relative to it.
        var mount = context.Features.Get<SpinMountFeature>();
        if (mount is not null && mount.Relative(path) is { } relative) path = relative;

        if (path.StartsWith(Router.ReservedPrefix, StringComparison.Ordinal))
        {
            await _reserved.RespondAsync(context, path);
            return;
        }

        var match = _app.Router.Match(path);
        if (match is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (mount is not null) match = mount.Outside(match);

        if (!hadHost)
        {
            // Spin cannot build the request URI without an authority and drops the connection without a response.
            _log.NoHostHeader(path);
            context.Abort();
            return;
        }

        if (_app.GetStaticResponse(match.ComponentId) is { } fixedResponse)
        {
            await StaticResponseWriter.WriteAsync(context, fixedResponse);
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
            _log.BodyTooLarge(path, context.Request.ContentLength, limit);
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            context.Response.ContentLength = 0;
            return;
        }

        // spin-full-url and spin-client-addr are computed from the context if the guest asks for them.
        await ExecuteAsync(context, executor, match, chained: null);
    }

    private Task ExecuteAsync(HttpContext context, IRequestExecutor executor, RouteMatch match, ChainedCall? chained) =>
        TriggerTelemetry.Enabled ? ExecuteTracedAsync(context, executor, match, chained) : ExecuteCoreAsync(context, executor, match, chained);

    /// <summary><see cref="ExecuteCoreAsync"/> in the request's server span, measured (only when something listens).</summary>
    private async Task ExecuteTracedAsync(HttpContext context, IRequestExecutor executor, RouteMatch match, ChainedCall? chained)
    {
        var start = Stopwatch.GetTimestamp();
        var activity = TriggerTelemetry.StartRequest(context, match.RawRoute, match.ComponentId, chained?.Depth ?? 0);
        try
        {
            await ExecuteCoreAsync(context, executor, match, chained);
        }
        finally
        {
            TriggerTelemetry.EndRequest(activity, context, match.RawRoute, match.ComponentId, start);
        }
    }

    private async Task ExecuteCoreAsync(HttpContext context, IRequestExecutor executor, RouteMatch match, ChainedCall? chained)
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

    /// <summary>503 + <c>Retry-After</c>: the component could not run the request in time (queue full, queue timeout or deadline passed).</summary>
    private void RefuseBusy(HttpContext context, string componentId)
    {
        if (context.RequestAborted.IsCancellationRequested) return;
        TriggerTelemetry.Refused(componentId);
        _log.AdmissionRefused(componentId);
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
        var guestStart = TriggerTelemetry.GuestDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
        using var guest = TriggerTelemetry.StartGuest(match.ComponentId);
        try
        {
            await executor.ExecuteAsync(inbound);
            // The executor logged the failure and answered 500 (or aborted the response); this only makes sure.
            if (deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
                Fail(context);
        }
        catch (Exception e)
        {
            var timedOut = deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;
            if (timedOut)
                _log.RequestTimedOut(match.ComponentId);
            else
                _log.ComponentFailed(e, match.ComponentId);
            if (e is not BadHttpRequestException)
                TriggerTelemetry.GuestFailed(match.ComponentId, e, timedOut);
            Fail(context, e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError);
        }
        finally
        {
            if (guestStart != 0)
                TriggerTelemetry.GuestDuration.Record(Stopwatch.GetElapsedTime(guestStart).TotalSeconds,
                    new KeyValuePair<string, object?>("spindle.component.id", match.ComponentId));
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
}
