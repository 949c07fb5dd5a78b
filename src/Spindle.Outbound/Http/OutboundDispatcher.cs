using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Spindle.App.Variables;
using Spindle.Outbound.AllowedHosts;
using Spindle.Outbound.Telemetry;
using Spindle.Wasi.Http;

namespace Spindle.Outbound.Http;

/// <summary>
/// An application's outbound HTTP: every guest request passes here. Owns the connection pools; the trigger plugs in
/// service chaining (<see cref="Chain"/>) and the host the listener's address (<see cref="Self"/>) once bound.
/// </summary>
public sealed class OutboundDispatcher : IDisposable
{
    private readonly OutboundHttpOptions _options;
    private readonly OutboundClients _clients;
    private readonly ILogger _log;

    /// <summary>Creates the pools.</summary>
    /// <exception cref="OutboundConfigurationException">A <c>client_tls</c> file cannot be used.</exception>
    public OutboundDispatcher(OutboundHttpOptions options, ILogger logger)
    {
        _options = options;
        _clients = new OutboundClients(options);
        _log = logger;
    }

    /// <summary>Runs <c>*.spin.internal</c> requests in process; null: such requests fail with <c>destination-not-found</c>.</summary>
    public ILocalServiceChain? Chain { get; set; }

    /// <summary>The listener self-requests go to; null until the server is bound (self-requests then fail with <c>HTTP-request-URI-invalid</c>).</summary>
    public SelfOrigin? Self { get; set; }

    /// <summary>The options in force.</summary>
    public OutboundHttpOptions Options => _options;

    /// <summary>The handler a component's guests send through: its allow-list, resolved with the application's variables.</summary>
    public OutboundHttpHandler ForComponent(string componentId, OutboundAllowList allowList, VariableResolver? variables)
    {
        Func<string, string>? resolve = variables is null ? null : variables.GetAppVariable;
        return (request, options, caller, cancellation) => OutboundTelemetry.Enabled
            ? SendTracedAsync(componentId, allowList, resolve, request, options, caller, cancellation)
            : SendAsync(componentId, allowList, resolve, request, options, caller, cancellation, null);
    }

    /// <summary>
    /// <see cref="SendAsync"/> inside a client span (the current activity meanwhile, so a chained callee continues
    /// it), measured until the response head: only when something listens (<see cref="OutboundTelemetry"/>).
    /// </summary>
    private async Task<IncomingResponse> SendTracedAsync(string componentId, OutboundAllowList allowList, Func<string, string>? resolve,
        OutgoingRequest request, RequestOptions? options, WasiHttpContext caller, CancellationToken cancellation)
    {
        var start = Stopwatch.GetTimestamp();
        var scheme = request.Scheme ?? "https";
        var (host, port) = string.IsNullOrEmpty(request.Authority) ? ("self", scheme == "https" ? 443 : 80) : SplitAuthority(request.Authority, scheme);
        using var activity = OutboundTelemetry.Source.StartActivity(request.Method, ActivityKind.Client);
        if (activity is not null)
        {
            activity.SetTag("http.request.method", request.Method);
            activity.SetTag("server.address", host);
            activity.SetTag("server.port", port);
            activity.SetTag("url.scheme", scheme);
            if (!string.IsNullOrEmpty(request.Authority))
                activity.SetTag("url.full", $"{scheme}://{request.Authority}{PathOnly(request.PathWithQuery)}");
            activity.SetTag("spindle.component.id", componentId);
            if (ServiceChaining.TargetOfHost(host) is { } callee)
                activity.SetTag("spindle.chain.callee", callee);
        }
        var tags = new TagList
        {
            { "http.request.method", request.Method }, { "server.address", host }, { "server.port", port }, { "url.scheme", scheme },
            { "spindle.component.id", componentId },
        };
        try
        {
            var response = await SendAsync(componentId, allowList, resolve, request, options, caller, cancellation, activity).ConfigureAwait(false);
            activity?.SetTag("http.response.status_code", (int)response.Status);
            if (response.Status >= 400)
            {
                activity?.SetTag("error.type", response.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                activity?.SetStatus(ActivityStatusCode.Error);
            }
            tags.Add("http.response.status_code", (int)response.Status);
            Record(start, tags, host, componentId, OutboundTelemetry.StatusClass(response.Status));
            return response;
        }
        catch (Exception e)
        {
            var error = OutboundTelemetry.ErrorType(e);
            activity?.SetTag("error.type", error);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            tags.Add("error.type", error);
            Record(start, tags, host, componentId, error);
            throw;
        }
    }

    private static void Record(long start, in TagList durationTags, string host, string componentId, string outcome)
    {
        OutboundTelemetry.Duration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, durationTags);
        OutboundTelemetry.Requests.Add(1, new KeyValuePair<string, object?>("server.address", host),
            new KeyValuePair<string, object?>("spindle.outbound.outcome", outcome), new KeyValuePair<string, object?>("spindle.component.id", componentId));
    }

    private static (string Host, int Port) SplitAuthority(string authority, string scheme)
    {
        var defaultPort = scheme == "https" ? 443 : 80;
        var colon = authority.LastIndexOf(':');
        if (colon > 0 && authority.IndexOf(']', colon) < 0 && int.TryParse(authority.AsSpan(colon + 1), out var port))
            return (authority[..colon].Trim('[', ']'), port);
        return (authority.Trim('[', ']'), defaultPort);
    }

    // The query may carry secrets: never recorded (as never logged).
    private static string PathOnly(string? pathWithQuery) =>
        pathWithQuery is null ? "/" : pathWithQuery.IndexOfAny(['?', '#']) is var cut and >= 0 ? pathWithQuery[..cut] : pathWithQuery;

    /// <summary>
    /// Sends one guest request:
    /// 1. a request without authority, or to host <c>self.alt</c>, is a self-request: allowed by a <c>self</c> entry,
    ///    it goes to the listener as bound (scheme of the inbound request), never to the inbound <c>Host</c>;
    /// 2. anything else is checked against the allow-list before any lookup or connection (denied: one log line
    ///    without the query, <c>HTTP-request-denied</c>);
    /// 3. <c>&lt;id&gt;.spin.internal</c> runs in process through <see cref="Chain"/> (<c>loop-detected</c> past
    ///    <see cref="OutboundHttpOptions.MaxChainDepth"/>); 4. the rest goes out through the pool of its TLS identity.
    /// With a span (<paramref name="activity"/>), a request leaving over the network carries its <c>traceparent</c>
    /// (the guest's own replaced); a chained call runs with it as the current activity, and the trigger puts it in
    /// the callee's request headers.
    /// </summary>
    private Task<IncomingResponse> SendAsync(string componentId, OutboundAllowList allowList, Func<string, string>? resolve,
        OutgoingRequest request, RequestOptions? options, WasiHttpContext caller, CancellationToken cancellation, Activity? activity)
    {
        var outboundCaller = caller as IOutboundCaller;
        var authority = string.IsNullOrEmpty(request.Authority) ? null : request.Authority;
        var scheme = request.Scheme ?? "https";
        var path = request.PathWithQuery ?? "/";
        var url = authority is null ? path : $"{scheme}://{authority}{path}";
        if (!RequestTarget.TryParse(authority is null ? "http://self.alt" : url, "https", out var target))
            throw new HttpErrorCodeException(HttpErrorCode.Of("HTTP-request-URI-invalid"), $"invalid URI {url}");

        if (authority is null || target.Host.Domain == "self.alt")
        {
            if (!allowList.AllowsSelf(resolve))
                throw Denied(componentId, url);
            if (outboundCaller?.InboundScheme is not { } inboundScheme || Self?.For(inboundScheme) is not { } origin)
                throw new HttpErrorCodeException(HttpErrorCode.Of("HTTP-request-URI-invalid"), "a self-request needs an inbound request to take its origin from");
            var selfMessage = HttpClientOutbound.ToRequestMessage(request, origin.Scheme, origin.Authority);
            SetVersion(selfMessage);
            if (activity is not null) OutboundTelemetry.Inject(activity, selfMessage);
            return HttpClientOutbound.SendAsync(_clients.ForSelf(Self.Certificate), selfMessage, options, cancellation);
        }

        if (!allowList.IsAllowed(target, resolve))
            throw Denied(componentId, url);

        if (ServiceChaining.TargetOfHost(target.Host.Domain) is { } callee)
        {
            var depth = (outboundCaller?.ChainDepth ?? 0) + 1;
            if (depth > _options.MaxChainDepth)
            {
                _log.ChainTooDeep(componentId, callee, depth - 1);
                throw new HttpErrorCodeException(HttpErrorCode.Of("loop-detected"), $"service chain deeper than {_options.MaxChainDepth}");
            }
            if (Chain is not { } chain)
                throw new HttpErrorCodeException(HttpErrorCode.Of("destination-not-found"), "service chaining is not available");
            return chain.SendAsync(callee, request, depth, outboundCaller?.InboundScheme, cancellation);
        }

        var message = HttpClientOutbound.ToRequestMessage(request);
        SetVersion(message);
        if (activity is not null) OutboundTelemetry.Inject(activity, message);
        var invoker = _clients.For(componentId, message.RequestUri!);
        return HttpClientOutbound.SendAsync(invoker, message, options, cancellation);
    }

    /// <summary>
    /// HTTP/1.1 for <c>http</c> (HTTP/2 with prior knowledge for the one configured authority); <c>h2</c> or HTTP/1.1
    /// by ALPN for <c>https</c>, HTTP/1.1 when the body already ended with trailers.
    /// </summary>
    private void SetVersion(HttpRequestMessage message)
    {
        var uri = message.RequestUri!;
        // A body the guest already ended with trailers asks for HTTP/1.1, the only version that can carry them here.
        if (uri.Scheme == "https" && message.Content is not GuestRequestContent { HasTrailers: true })
        {
            message.Version = HttpVersion.Version20;
            message.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        }
        else if (_options.H2cPriorKnowledge is { } h2c && string.Equals(uri.Authority, h2c, StringComparison.OrdinalIgnoreCase))
        {
            message.Version = HttpVersion.Version20;
            message.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        else
        {
            message.Version = HttpVersion.Version11;
            message.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
    }

    private HttpErrorCodeException Denied(string componentId, string url)
    {
        // The query may carry secrets (tokens, keys): never logged.
        var cut = url.IndexOfAny(['?', '#']);
        var shown = cut < 0 ? url : url[..cut];
        _log.RequestDenied(componentId, shown);
        return new HttpErrorCodeException(HttpErrorCode.RequestDenied(), $"{shown} is not allowed by allowed_outbound_hosts");
    }

    /// <inheritdoc />
    public void Dispose() => _clients.Dispose();
}
