using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Spindle.Hosting;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Server;

/// <summary>HTTPS with PEM files made in the test (CertificateRequest), HTTP/2 by ALPN, and the TLS error lines.</summary>
public sealed class TlsTests : IDisposable
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private readonly TempApp _app = new("""
        spin_manifest_version = 2
        [application]
        name = "tls"
        [[trigger.http]]
        route = "/hello"
        static_response = { body = "secure hello" }
        """);

    public void Dispose() => _app.Dispose();

    private static CertificateRequest Request(AsymmetricAlgorithm key)
    {
        var req = key is RSA rsa
            ? new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=localhost", (ECDsa)key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        req.CertificateExtensions.Add(san.Build());
        return req;
    }

    /// <summary>Writes cert.pem and key.pem; returns the certificate for pinning.</summary>
    private (string Cert, string Key, X509Certificate2 Certificate) WritePem(string keyFormat)
    {
        AsymmetricAlgorithm key = keyFormat == "pkcs1" ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var _ = key;
        var cert = Request(key).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var keyPem = keyFormat switch
        {
            "pkcs8" => key.ExportPkcs8PrivateKeyPem(),
            "pkcs1" => ((RSA)key).ExportRSAPrivateKeyPem(),
            "sec1" => ((ECDsa)key).ExportECPrivateKeyPem(),
            _ => throw new ArgumentException(keyFormat),
        };
        var certPath = _app.WriteFile($"{keyFormat}-cert.pem", cert.ExportCertificatePem());
        var keyPath = _app.WriteFile($"{keyFormat}-key.pem", keyPem);
        return (certPath, keyPath, cert);
    }

    [Fact]
    public async Task Https_serves_HTTP2_negotiated_by_ALPN()
    {
        var (certPath, keyPath, cert) = WritePem("pkcs8");
        await using var host = await SpindleHost.StartAsync(new SpindleHostOptions
        {
            ManifestPath = _app.ManifestPath,
            ListenAddress = "127.0.0.1:0",
            TlsCertificatePath = certPath,
            TlsKeyPath = keyPath,
            Output = TextWriter.Null,
        }, Ct);
        Assert.Equal("https", host.BaseUrl.Scheme);

        using var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
            presented is not null && presented.GetCertHashString() == cert.GetCertHashString();
        using var client = new HttpClient(handler)
        {
            BaseAddress = host.BaseUrl,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var r = await client.GetAsync("/hello", Ct);
        Assert.Equal(HttpVersion.Version20, r.Version);
        Assert.Equal("secure hello", await r.Content.ReadAsStringAsync(Ct));
        var health = await client.GetAsync("/.well-known/spin/health", Ct);
        Assert.Equal("OK", await health.Content.ReadAsStringAsync(Ct));

        using var h11 = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        }) { BaseAddress = host.BaseUrl, DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var r11 = await h11.GetAsync("/hello", Ct);
        Assert.Equal(HttpVersion.Version11, r11.Version);
    }

    [Theory]
    [InlineData("pkcs8")]
    [InlineData("pkcs1")]
    [InlineData("sec1")]
    public void Pem_keys_in_every_common_format_load(string format)
    {
        var (certPath, keyPath, cert) = WritePem(format);
        var (loaded, chain) = TlsCertificateLoader.Load(certPath, keyPath);
        Assert.True(loaded.HasPrivateKey);
        Assert.Equal(cert.Thumbprint, loaded.Thumbprint);
        Assert.Empty(chain);
    }

    [Fact]
    public void Unreadable_certificate_is_one_line()
    {
        var missing = Path.Combine(_app.Dir, "nope.pem");
        var (_, keyPath, _) = WritePem("pkcs8");
        var ex = Assert.Throws<SpindleStartupException>(() => TlsCertificateLoader.Load(missing, keyPath));
        Assert.StartsWith($"cannot read TLS certificate '{missing}'", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);

        var garbage = _app.WriteFile("garbage.pem", "not a certificate");
        ex = Assert.Throws<SpindleStartupException>(() => TlsCertificateLoader.Load(garbage, keyPath));
        Assert.Contains($"TLS certificate '{garbage}'", ex.Message);
    }

    [Fact]
    public async Task Mismatched_key_is_one_line_and_nothing_listens()
    {
        var (certPath, _, _) = WritePem("pkcs8");
        var (_, otherKey, _) = WritePem("sec1");
        var ex = await Assert.ThrowsAsync<SpindleStartupException>(() => SpindleHost.StartAsync(new SpindleHostOptions
        {
            ManifestPath = _app.ManifestPath,
            ListenAddress = "127.0.0.1:0",
            TlsCertificatePath = certPath,
            TlsKeyPath = otherKey,
            Output = TextWriter.Null,
        }, Ct));
        Assert.StartsWith($"TLS key '{otherKey}' does not match certificate '{certPath}'", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task Certificate_without_key_is_refused()
    {
        var (certPath, _, _) = WritePem("pkcs8");
        var ex = await Assert.ThrowsAsync<SpindleStartupException>(() => SpindleHost.StartAsync(new SpindleHostOptions
        {
            ManifestPath = _app.ManifestPath,
            ListenAddress = "127.0.0.1:0",
            TlsCertificatePath = certPath,
            Output = TextWriter.Null,
        }, Ct));
        Assert.Contains("both --tls-cert and --tls-key", ex.Message);
    }
}
