using Microsoft.AspNetCore.Http;
using Spindle.Trigger.Http.Routing;

namespace Spindle.Trigger.Http.Executors;

/// <summary>One routed inbound request, as handed to an executor.</summary>
public sealed class InboundRequest
{
    /// <summary>The Kestrel request and response (headers already cleaned of <c>Connection</c> and <c>*.spin.internal</c> <c>Host</c>).</summary>
    public required HttpContext Http { get; init; }

    /// <summary>The route facts.</summary>
    public required RouteMatch Route { get; init; }

    private string? _fullUrl;
    private string? _clientAddr;

    /// <summary>
    /// <c>spin-full-url</c>: listener scheme, Host (or <c>localhost</c>), raw path and query. Unless given, computed
    /// from <see cref="Http"/> when first read (most guests never ask).
    /// </summary>
    public string FullUrl
    {
        get => _fullUrl ??= SpinRequestHeaders.ComputeFullUrl(Http.Request.Scheme, Http.Request.Headers.Host.ToString(),
            RawRequestTarget.RawPathAndQuery(Http).PathAndQuery);
        init => _fullUrl = value;
    }

    /// <summary>Peer <c>ip:port</c> (<c>0.0.0.0:0</c> for chained requests). Unless given, computed from <see cref="Http"/> when first read.</summary>
    public string ClientAddr
    {
        get => _clientAddr ??= SpinRequestHeaders.FormatClientAddr(Http.Connection.RemoteIpAddress, Http.Connection.RemotePort);
        init => _clientAddr = value;
    }

    private IReadOnlyList<KeyValuePair<string, string>>? _spinHeaders;

    /// <summary>
    /// The <c>spin-*</c> headers to append after the client's own headers, in Spin's order. Unless given, computed
    /// from <see cref="Route"/>, <see cref="FullUrl"/> and <see cref="ClientAddr"/> when first read (a guest that
    /// never reads its headers does not pay for them).
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> SpinHeaders
    {
        get => _spinHeaders ??= SpinRequestHeaders.Compute(Route, FullUrl, ClientAddr);
        init => _spinHeaders = value;
    }

    /// <summary>
    /// The request's deadline, owned by the trigger: cancelled when the request timeout passes, for a chained call
    /// when its caller gives up, and for a client's request a grace period after the client went away (its body
    /// then fails to read and write, and a guest that finishes within the grace keeps its warm instance).
    /// </summary>
    public CancellationToken Aborted { get; init; }

    /// <summary>
    /// Admission control's view of the guest: set it as the store's <see cref="Wasmtime.WasmStore.WaitObserver"/>,
    /// so a guest parked on I/O does not count as running. Null when the request was not admitted (chained calls).
    /// </summary>
    public Wasmtime.IGuestWaitObserver? WaitObserver { get; init; }

    /// <summary>How a failure's log line names the request: its id (Kestrel's trace identifier), method and route.</summary>
    public string Describe() => $"request {Http.TraceIdentifier} {Http.Request.Method} {Route.RawRoute}";

    /// <summary>0 for a client's request; n for the n-th callee of a <c>*.spin.internal</c> chain.</summary>
    public int ChainDepth { get; init; }

    private string? _authority;

    /// <summary>The request URI's authority (the client's <c>Host</c>; for a chained request, the target's name); null when there is none.</summary>
    public string? Authority
    {
        get => _authority ??= Http.Request.Host.HasValue ? Http.Request.Host.Value : null;
        init => _authority = value;
    }

    private string? _scheme;

    /// <summary>The scheme the request (or the first request of its chain) came in with; self-requests use it.</summary>
    public string Scheme
    {
        get => _scheme ??= Http.Request.Scheme;
        init => _scheme = value;
    }
}

/// <summary>
/// Runs one component for a routed request (wasi:http, Wagi...). Created once per component at load;
/// <see cref="ExecuteAsync"/> is called concurrently. A guest failure before the response starts must answer 500
/// with an empty body; after it started, the response is aborted. It never throws for guest faults.
/// </summary>
public interface IRequestExecutor
{
    /// <summary>Handles the request and writes the response.</summary>
    Task ExecuteAsync(InboundRequest request);
}
