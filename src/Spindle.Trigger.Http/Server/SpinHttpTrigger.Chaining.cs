using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using Spindle.Outbound.Http;
using Spindle.Outbound.Telemetry;
using Spindle.Trigger.Http.Chaining;
using Spindle.Trigger.Http.Routing;
using Spindle.Wasi.Http;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Server;

// The chaining entry of the pipeline: how a request to <id>.spin.internal enters it without a client connection.
public sealed partial class SpinHttpTrigger : ILocalServiceChain
{
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
            await StaticResponseWriter.WriteAsync(context, fixedResponse);
            return;
        }
        var executor = _app.GetExecutor(componentId)
            ?? throw new InvalidOperationException($"component '{componentId}' has no HTTP trigger and cannot be reached by service chaining");
        var match = _app.Router.ChainedMatch(componentId, path);
        await ExecuteAsync(context, executor, match, new ChainedCall(SpinRequestHeaders.ComputeFullUrl("http", null, pathAndQuery), depth, scheme, authority));
    }

    /// <summary>
    /// <see cref="ILocalServiceChain"/>: runs the callee with an in-memory exchange, never on the caller's fiber:
    /// it starts on the caller's thread as soon as the caller's poll returns (<see cref="AfterPoll"/>), so a callee
    /// that answers without waiting has published its response before the caller looks at its pending wait, and
    /// the caller resumes without a thread-pool wake-up (called outside a guest, it starts on the thread pool).
    /// The caller's admission covers its chain, so a callee never queues behind the very slot its caller holds
    /// (if the instance pool has no room left the callee fails fast with a 500 instead).
    /// </summary>
    Task<IncomingResponse> ILocalServiceChain.SendAsync(string componentId, OutgoingRequest request, int chainDepth, string? inboundScheme,
        CancellationToken cancellation)
    {
        if (_app.GetStaticResponse(componentId) is null && _app.GetExecutor(componentId) is null)
        {
            _log.NoChainTarget(componentId);
            throw new HttpErrorCodeException(HttpErrorCode.Of("destination-not-found"), $"no HTTP component '{componentId}' to chain to");
        }
        var exchange = new ChainedExchange(request, cancellation);
        // As over the network: the callee (its span, and its guest, which sees the headers) continues the outbound span.
        // The start captures the current execution context, so the callee's Activity.Current is that span too.
        if (OutboundTelemetry.CurrentClientSpan is { } span)
            OutboundTelemetry.Inject(span, exchange.Http.Request.Headers);
        AfterPoll.Run(static s => ((ChainedStart)s!).Run(), new ChainedStart(this, exchange, componentId, chainDepth, inboundScheme ?? "http"));
        return exchange.Response;
    }

    /// <summary>A callee to start: runs it and ends the exchange (never throws: failures go to the caller's response).</summary>
    private sealed record ChainedStart(SpinHttpTrigger Trigger, ChainedExchange Exchange, string ComponentId, int Depth, string Scheme)
    {
        public void Run() => _ = RunAsync();

        private async Task RunAsync()
        {
            try
            {
                await Trigger.ExecuteChainedAsync(Exchange.Http, ComponentId, Depth, Scheme);
                await Exchange.CompleteAsync();
            }
            catch (Exception e)
            {
                Exchange.Fail(e);
            }
        }
    }

    /// <summary>What a chained request carries instead of a client connection.</summary>
    private sealed record ChainedCall(string FullUrl, int Depth, string Scheme, string Authority);
}
