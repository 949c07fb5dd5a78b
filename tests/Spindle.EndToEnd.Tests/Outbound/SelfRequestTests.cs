using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;

namespace Spindle.EndToEnd.Tests.Outbound;

/// <summary>Self-requests (relative URL or host <c>self.alt</c>) go to the application's own bound listener, over HTTP and HTTPS.</summary>
public sealed class SelfRequestTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private const string Manifest = """
        spin_manifest_version = 2
        [application]
        name = "self"
        [[trigger.http]]
        route = "/wat/..."
        component = "wat"
        [[trigger.http]]
        route = "/js/..."
        component = "js"
        [[trigger.http]]
        route = "/backend/..."
        component = "backend"
        [component.wat]
        source = "{fixture:wat/http-outbound.wasm}"
        allowed_outbound_hosts = ["http://self", "https://self"]
        [component.js]
        source = "{fixture:js/fetch-proxy.wasm}"
        allowed_outbound_hosts = ["http://self", "https://self"]
        [component.backend]
        source = "{fixture:js/echo.wasm}"
        """;

    private static async Task<(HttpStatusCode Status, string? ErrorCode, string Body)> ViaWat(HttpClient client, string path, string? host = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/wat/");
        request.Headers.Add("x-path", path);
        if (host is not null) request.Headers.Host = host;
        using var response = await client.SendAsync(request, Ct);
        return (response.StatusCode, response.Headers.TryGetValues("x-error-code", out var e) ? e.Single() : null,
            await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_relative_request_and_self_alt_reach_the_own_listener_whatever_the_Host_header_says()
    {
        // A server the inbound Host header points at: it must never be contacted (Spin's CVE-2024-32980).
        await using var decoy = await Upstream.StartAsync(_ => Task.CompletedTask);
        using var app = new TestApp(Manifest);
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);

        var (status, error, body) = await ViaWat(client, "/backend/from-wat?x=1", host: $"127.0.0.1:{decoy.Port}");
        Assert.True(status == HttpStatusCode.OK, $"{status} error-code {error}");
        var echo = EchoReply.Parse(body);
        Assert.Equal("/from-wat", echo.Header("spin-path-info"));
        Assert.EndsWith("/backend/from-wat?x=1", echo.Header("spin-full-url"));
        Assert.Equal("wat", echo.Header("x-from-guest"));

        var request = new HttpRequestMessage(HttpMethod.Get, "/js/");
        request.Headers.Add("x-target", "http://self.alt/backend/from-js");
        request.Headers.Host = $"127.0.0.1:{decoy.Port}";
        using var viaJs = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, viaJs.StatusCode);
        Assert.Equal("/from-js", EchoReply.Parse(await viaJs.Content.ReadAsStringAsync(Ct)).Header("spin-path-info"));
        Assert.Equal(0, decoy.Connections);
    }

    [Fact]
    public async Task Self_requests_need_a_self_entry_and_are_blocked_with_private_networks()
    {
        // The WAT caller may reach 127.0.0.1 but has no self entry; the JS caller keeps "http://self".
        var watEntry = "source = \"{fixture:wat/http-outbound.wasm}\"\nallowed_outbound_hosts = [\"http://self\", \"https://self\"]";
        using var app = new TestApp(Manifest.Replace(watEntry, "source = \"{fixture:wat/http-outbound.wasm}\"\nallowed_outbound_hosts = [\"http://127.0.0.1:*\"]"));
        app.WriteFile("runtime-config.toml", "[outbound_networking]\nblock_networks = [\"private\"]\n");
        await using var host = await app.StartAsync(runtime, configure: o => o with { RuntimeConfigPath = Path.Combine(app.Dir, "runtime-config.toml") });
        using var client = TestApp.Client(host.BaseUrl);

        Assert.Equal("15", (await ViaWat(client, "/backend/")).ErrorCode);
        // Allowed by "http://self", but loopback is a private network.
        var request = new HttpRequestMessage(HttpMethod.Get, "/js/");
        request.Headers.Add("x-target", "http://self.alt/backend/");
        using var blocked = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.BadGateway, blocked.StatusCode);
    }

    [Fact]
    public async Task A_self_request_over_HTTPS_uses_the_servers_own_certificate()
    {
        using var app = new TestApp(Manifest);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var certRequest = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        certRequest.CertificateExtensions.Add(san.Build());
        using var cert = certRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = app.WriteFile("cert.pem", cert.ExportCertificatePem());
        var keyPath = app.WriteFile("key.pem", key.ExportPkcs8PrivateKeyPem());
        await using var host = await app.StartAsync(runtime, configure: o => o with { TlsCertificatePath = certPath, TlsKeyPath = keyPath });
        Assert.Equal("https", host.BaseUrl.Scheme);

        using var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == cert.GetCertHashString();
        using var client = new HttpClient(handler) { BaseAddress = host.BaseUrl };
        var (status, error, body) = await ViaWat(client, "/backend/over-tls");
        Assert.True(status == HttpStatusCode.OK, $"{status} error-code {error}");
        Assert.StartsWith("https://", EchoReply.Parse(body).Header("spin-full-url"));
    }
}
