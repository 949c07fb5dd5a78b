using System.Net;

namespace Spindle.Outbound.Http;

/// <summary>How an application's outbound HTTP behaves beyond the allow-lists (Spin's runtime config, plus Spindle's own limits).</summary>
public sealed class OutboundHttpOptions
{
    /// <summary><c>[outbound_http] connection_pooling</c>: reuse connections between requests (default true).</summary>
    public bool ConnectionPooling { get; init; } = true;

    /// <summary><c>[outbound_http] max_connections</c>: most TCP connections open at once for the application; null = no limit, 0 = none allowed.</summary>
    public int? MaxConnections { get; init; }

    /// <summary><c>[outbound_networking] block_networks</c>, judged on the resolved addresses; null = nothing blocked.</summary>
    public Func<IPAddress, bool>? IsBlocked { get; init; }

    /// <summary><c>[[client_tls]]</c> entries, in file order (the first that matches a component and host applies).</summary>
    public IReadOnlyList<ClientTlsOptions> ClientTls { get; init; } = [];

    /// <summary>
    /// The one authority (<c>host:port</c>) plain-HTTP requests to which use HTTP/2 with prior knowledge, as Spin's
    /// <c>SPIN_OUTBOUND_H2C_PRIOR_KNOWLEDGE</c>; null = none.
    /// </summary>
    public string? H2cPriorKnowledge { get; init; }

    /// <summary>
    /// Name resolution for outbound connections, in place of DNS (a test routes every name to a loopback server;
    /// an embedder can pin names); null = DNS. Blocked networks apply to what it returns.
    /// </summary>
    public Func<DnsEndPoint, CancellationToken, ValueTask<IPEndPoint[]>>? Resolve { get; init; }

    /// <summary>Longest chain of <c>*.spin.internal</c> calls before <c>loop-detected</c> (Spindle's, not Spin's: Spin has no limit). Default 10.</summary>
    public int MaxChainDepth { get; init; } = 10;
}

/// <summary>One <c>[[client_tls]]</c> entry: the TLS identity used by some components towards some hosts.</summary>
public sealed class ClientTlsOptions
{
    /// <summary>Components the entry applies to.</summary>
    public required IReadOnlyList<string> ComponentIds { get; init; }

    /// <summary>Hosts (<c>host</c> or <c>host:port</c>) the entry applies to.</summary>
    public required IReadOnlyList<string> Hosts { get; init; }

    /// <summary>PEM file of extra root certificates to trust; null for none.</summary>
    public string? CaRootsFile { get; init; }

    /// <summary>Whether the platform's roots are trusted too (default true).</summary>
    public bool CaUsePlatformRoots { get; init; } = true;

    /// <summary>PEM certificate chain to present to the server; null for none.</summary>
    public string? ClientCertFile { get; init; }

    /// <summary>PEM private key of <see cref="ClientCertFile"/>.</summary>
    public string? ClientPrivateKeyFile { get; init; }

    /// <summary>Whether the entry covers <paramref name="componentId"/> sending to <paramref name="host"/> on <paramref name="port"/>.</summary>
    public bool Applies(string componentId, string host, int port) =>
        ComponentIds.Contains(componentId) && Hosts.Any(h =>
            string.Equals(h, host, StringComparison.OrdinalIgnoreCase)
            || string.Equals(h, $"{host}:{port}", StringComparison.OrdinalIgnoreCase));
}

/// <summary>Maps Spin's runtime configuration onto <see cref="OutboundHttpOptions"/>.</summary>
public static class OutboundHttpOptionsMapping
{
    /// <summary>
    /// The outbound options of <paramref name="config"/>. <c>ca_use_webpki_roots</c> (Mozilla's roots, compiled
    /// into Spin) is served by the platform's roots, the closest .NET has.
    /// </summary>
    public static OutboundHttpOptions FromRuntimeConfig(Spindle.App.RuntimeConfiguration.RuntimeConfig config, string? h2cPriorKnowledge = null, int maxChainDepth = 10) => new()
    {
        ConnectionPooling = config.OutboundHttp.ConnectionPooling,
        MaxConnections = config.OutboundHttp.MaxConnections,
        IsBlocked = config.BlockNetworks.Entries.Count == 0 ? null : config.BlockNetworks.IsBlocked,
        ClientTls = config.ClientTls.Select(t => new ClientTlsOptions
        {
            ComponentIds = t.ComponentIds,
            Hosts = t.Hosts,
            CaRootsFile = t.CaRootsFile,
            CaUsePlatformRoots = t.CaUsePlatformRoots || t.CaUseWebpkiRoots,
            ClientCertFile = t.ClientCertFile,
            ClientPrivateKeyFile = t.ClientPrivateKeyFile,
        }).ToList(),
        H2cPriorKnowledge = string.IsNullOrEmpty(h2cPriorKnowledge) ? null : h2cPriorKnowledge,
        MaxChainDepth = maxChainDepth,
    };
}
