using Spindle.Wasi.Preview2;

namespace Spindle.Wasi.Http;

/// <summary>
/// Sends a guest's outbound request. Throw <see cref="HttpErrorCodeException"/> to answer a specific
/// <c>error-code</c> (for example <c>HTTP-request-denied</c> when the allow-list refuses the host).
/// <paramref name="caller"/> is the calling guest's store data (a host may derive its own context type to carry
/// per-request facts such as the inbound scheme).
/// </summary>
public delegate Task<IncomingResponse> OutboundHttpHandler(OutgoingRequest request, RequestOptions? options, WasiHttpContext caller, CancellationToken cancellation);

/// <summary>The per-store state of a wasi:http guest: the WASI state plus how outbound requests are sent.</summary>
public class WasiHttpContext : WasiContext
{
    /// <summary>Sends outbound requests; null denies every request with <c>HTTP-request-denied</c>.</summary>
    public OutboundHttpHandler? Outbound { get; init; }
}
