using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Spindle.Wasi.Http;

namespace Spindle.Outbound.Http;

/// <summary>
/// An application's outbound connection pools: one <c>SocketsHttpHandler</c> per TLS identity (the default one,
/// one per <c>[[client_tls]]</c> entry, one that trusts the application's own certificate for self-requests), so
/// a pooled connection is never shared between two identities. Every handler follows no redirects, keeps no
/// cookies, uses no proxy and does not decompress: the guest sees what the server sent. All share one connector
/// (blocked networks, the connection limit).
/// </summary>
internal sealed class OutboundClients : IDisposable
{
    private readonly OutboundHttpOptions _options;
    private readonly OutboundConnector _connector;
    private readonly HttpMessageInvoker _default;
    private readonly (ClientTlsOptions Entry, HttpMessageInvoker Invoker)[] _clientTls;
    private HttpMessageInvoker? _self;
    private X509Certificate2? _selfCertificate;

    /// <exception cref="OutboundConfigurationException">A <c>client_tls</c> file cannot be read.</exception>
    public OutboundClients(OutboundHttpOptions options)
    {
        _options = options;
        _connector = new OutboundConnector(options.IsBlocked, options.MaxConnections, options.Resolve);
        _default = Create(null);
        _clientTls = options.ClientTls.Select((e, i) => (e, Create(LoadTls(e, i)))).ToArray();
    }

    /// <summary>The pool for <paramref name="componentId"/> sending to <paramref name="uri"/>'s host and port.</summary>
    public HttpMessageInvoker For(string componentId, Uri uri)
    {
        // Without client_tls entries every request takes the default pool: no host name is worked out for it.
        if (_clientTls.Length == 0)
            return _default;
        var host = uri.IdnHost;
        foreach (var (entry, invoker) in _clientTls)
            if (entry.Applies(componentId, host, uri.Port))
                return invoker;
        return _default;
    }

    /// <summary>The pool for self-requests: trusts <paramref name="certificate"/> (the listener's own) besides the platform roots.</summary>
    public HttpMessageInvoker ForSelf(X509Certificate2? certificate)
    {
        if (certificate is null)
            return _default;
        lock (_selfLock)
        {
            if (_self is null || !ReferenceEquals(_selfCertificate, certificate))
            {
                var thumbprint = certificate.GetCertHashString();
                _self?.Dispose();
                _self = Create(new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                        errors == SslPolicyErrors.None || (cert is not null && cert.GetCertHashString() == thumbprint),
                });
                _selfCertificate = certificate;
            }
            return _self;
        }
    }

    private readonly Lock _selfLock = new();

    private HttpMessageInvoker Create(SslClientAuthenticationOptions? tls)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            ConnectCallback = _connector.ConnectAsync,
            // The connect callback applies each request's own connect timeout.
            ConnectTimeout = Timeout.InfiniteTimeSpan,
            EnableMultipleHttp2Connections = true,
            // HTTP/1.1 connections carry the guests' request trailers in the last chunk (the handler has no API for them).
            PlaintextStreamFilter = RequestTrailerStream.Filter,
            // The dispatcher sets traceparent itself, from its outbound span and only when there is one: .NET's
            // DiagnosticsHandler would otherwise add one of whatever activity is current (ASP.NET Core's request).
            ActivityHeadersPropagator = null,
        };
        if (!_options.ConnectionPooling)
        {
            // Each connection serves one request and is closed (connection_pooling = false).
            handler.PooledConnectionLifetime = TimeSpan.Zero;
            handler.PooledConnectionIdleTimeout = TimeSpan.Zero;
        }
        if (tls is not null)
            handler.SslOptions = tls;
        return new HttpMessageInvoker(handler, disposeHandler: true);
    }

    private static SslClientAuthenticationOptions LoadTls(ClientTlsOptions entry, int index)
    {
        var options = new SslClientAuthenticationOptions();
        if (entry.ClientCertFile is { } certFile)
        {
            var keyFile = entry.ClientPrivateKeyFile
                ?? throw new OutboundConfigurationException($"client_tls[{index}]: client_cert_file '{certFile}' needs client_private_key_file");
            try
            {
                // Linux keeps PEM-loaded keys usable for TLS; other platforms need them in a PKCS#12 round trip.
                var cert = X509Certificate2.CreateFromPemFile(certFile, keyFile);
                if (!OperatingSystem.IsLinux())
                    cert = X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
                options.ClientCertificates = [cert];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                throw new OutboundConfigurationException($"client_tls[{index}]: cannot load client_cert_file '{certFile}' with client_private_key_file '{keyFile}': {e.Message}", e);
            }
        }
        if (entry.CaRootsFile is { } caFile || !entry.CaUsePlatformRoots)
        {
            var roots = new X509Certificate2Collection();
            if (entry.CaRootsFile is { } file)
            {
                try
                {
                    roots.ImportFromPemFile(file);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
                {
                    throw new OutboundConfigurationException($"client_tls[{index}]: cannot read ca_roots_file '{file}': {e.Message}", e);
                }
                if (roots.Count == 0)
                    throw new OutboundConfigurationException($"client_tls[{index}]: ca_roots_file '{file}' holds no PEM certificate");
            }
            var usePlatform = entry.CaUsePlatformRoots;
            options.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            {
                if (usePlatform && errors == SslPolicyErrors.None)
                    return true;
                // The name must match whoever signed it; only the chain may end at one of the given roots.
                if (cert is null || roots.Count == 0 || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
                    return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData()));
            };
        }
        return options;
    }

    public void Dispose()
    {
        _default.Dispose();
        foreach (var (_, invoker) in _clientTls)
            invoker.Dispose();
        _self?.Dispose();
    }
}

/// <summary>The outbound configuration cannot be used (a <c>client_tls</c> file, for example); names the entry and file.</summary>
public sealed class OutboundConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
