namespace Spindle.Outbound.Http;

/// <summary>
/// What the dispatcher needs to know about the guest making a request, implemented by the trigger's per-request
/// store data: where a self-request goes and how deep in a service chain the caller already is.
/// </summary>
public interface IOutboundCaller
{
    /// <summary>The scheme of the inbound request being served (<c>http</c>/<c>https</c>); null outside an inbound request.</summary>
    string? InboundScheme { get; }

    /// <summary>0 for a request from a client; n for the n-th component of a <c>*.spin.internal</c> chain.</summary>
    int ChainDepth { get; }
}

/// <summary>
/// Runs a request in process on another component of the same application (<c>http://&lt;id&gt;.spin.internal</c>),
/// implemented by the HTTP trigger so this layer does not depend on it.
/// </summary>
public interface ILocalServiceChain
{
    /// <summary>
    /// Sends <paramref name="request"/> to <paramref name="componentId"/>: completes when the callee's response head
    /// is known; request and response bodies stream through memory.
    /// </summary>
    /// <param name="componentId">The callee.</param>
    /// <param name="request">The caller's request (its body pipe is read as the caller writes it).</param>
    /// <param name="chainDepth">The callee's depth in the chain (the caller's plus one).</param>
    /// <param name="inboundScheme">The scheme the chain's first request came in with.</param>
    /// <param name="cancellation">The caller's deadline and cancellation; they end the callee too.</param>
    Task<Spindle.Wasi.Http.IncomingResponse> SendAsync(string componentId, Spindle.Wasi.Http.OutgoingRequest request, int chainDepth,
        string? inboundScheme, CancellationToken cancellation);
}

/// <summary>Where self-requests go: the application's own listener, as bound (never the inbound <c>Host</c>).</summary>
/// <param name="Authorities">Bound <c>host:port</c> per scheme (<c>http</c>, <c>https</c>).</param>
/// <param name="Certificate">The listener's certificate, trusted for self-requests over HTTPS.</param>
public sealed record SelfOrigin(IReadOnlyDictionary<string, string> Authorities, System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate = null)
{
    /// <summary>The scheme and authority for a request that came in with <paramref name="inboundScheme"/>: the same scheme when the listener has it.</summary>
    public (string Scheme, string Authority)? For(string inboundScheme) =>
        Authorities.TryGetValue(inboundScheme, out var a) ? (inboundScheme, a)
        : Authorities.Count > 0 ? (Authorities.Keys.First(), Authorities.Values.First()) : null;
}
