using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;
using Spindle.Testing;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>Hosts started for one scenario each: HTTPS/HTTP2, request timeout, a bad component, the README example.</summary>
public sealed class HostScenarioTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Big_bodies_end_promptly_on_a_keep_alive_connection()
    {
        // The JS guest sets Content-Length on its 1 MiB body; once the head went out Kestrel does not flush the
        // tail of such a body when the request ends, so Spindle must. A client that reads exactly Content-Length
        // bytes and then sends its next request on the same connection (as wrk does) stalls if the tail is left.
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "big"
            [[trigger.http]]
            route = "/..."
            component = "big"
            [component.big]
            source = "{fixture:js/big.wasm}"
            """);
        await using var host = await app.StartAsync(runtime);
        var url = host.BaseUrl;
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(url.Host, url.Port, Ct);
        var stream = tcp.GetStream();
        var buffer = new byte[64 * 1024];
        for (var round = 0; round < 20; round++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await stream.WriteAsync("GET / HTTP/1.1\r\nHost: test\r\n\r\n"u8.ToArray(), timeout.Token);
            var head = new List<byte>();
            var one = new byte[1];
            while (head.Count < 4 || !head.TakeLast(4).SequenceEqual("\r\n\r\n"u8.ToArray()))
            {
                Assert.True(await stream.ReadAsync(one, timeout.Token) == 1, "connection closed");
                head.Add(one[0]);
            }
            var lines = System.Text.Encoding.ASCII.GetString(head.ToArray()).Split("\r\n");
            var length = long.Parse(lines.Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim());
            Assert.Equal(1L << 20, length);
            for (long read = 0; read < length;)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - read)), timeout.Token);
                Assert.True(n > 0, $"connection closed after {read} of {length} bytes in round {round}");
                read += n;
            }
        }
    }

    [Fact]
    public async Task Https_with_HTTP2_reaches_a_real_JavaScript_component()
    {
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "tls"
            [[trigger.http]]
            route = "/..."
            component = "echo"
            [component.echo]
            source = "{fixture:js/echo.wasm}"
            """);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = app.WriteFile("cert.pem", cert.ExportCertificatePem());
        var keyPath = app.WriteFile("key.pem", key.ExportPkcs8PrivateKeyPem());

        await using var host = await app.StartAsync(runtime, configure: o => new()
        {
            ManifestPath = o.ManifestPath,
            ListenAddress = o.ListenAddress,
            Executors = o.Executors,
            ConfigureLogging = o.ConfigureLogging,
            Output = o.Output,
            TlsCertificatePath = certPath,
            TlsKeyPath = keyPath,
        });
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
        using var content = new StringContent("posted over h2");
        var r = await client.PostAsync("/over/tls?q=1", content, Ct);
        Assert.Equal(HttpVersion.Version20, r.Version);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var echo = EchoReply.Parse(await r.Content.ReadAsStringAsync(Ct));
        Assert.Equal("POST", echo.Method);
        Assert.Equal("posted over h2", echo.Body);
        Assert.Equal("/over/tls", echo.Header("spin-path-info"));
        Assert.StartsWith("https://", echo.Header("spin-full-url"));
        Assert.Equal(new[] { "one" }, r.Headers.GetValues("x-echo"));
    }

    [Fact]
    public async Task Request_timeout_interrupts_a_busy_guest_with_500_and_the_server_keeps_serving()
    {
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "timeout"
            [[trigger.http]]
            route = "/loop"
            component = "loop"
            [[trigger.http]]
            route = "/hello"
            component = "hello"
            [component.loop]
            source = "{fixture:wat/http-loop.wasm}"
            [component.hello]
            source = "{fixture:wat/http-hello.wasm}"
            """);
        var log = new CapturedLog();
        await using var host = await app.StartAsync(runtime, log, o => new()
        {
            ManifestPath = o.ManifestPath,
            ListenAddress = o.ListenAddress,
            Executors = o.Executors,
            ConfigureLogging = o.ConfigureLogging,
            Output = o.Output,
            Server = new() { RequestTimeout = TimeSpan.FromMilliseconds(300) },
        });
        using var client = TestApp.Client(host.BaseUrl);

        var clock = Stopwatch.StartNew();
        var r = await client.GetAsync("/loop", Ct);
        clock.Stop();
        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the loop ran {clock.Elapsed} before being stopped");
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"answered after {clock.Elapsed}, before the deadline");
        Assert.Contains(log.Lines, l => l.Contains("loop", StringComparison.Ordinal) && l.Contains("request timeout", StringComparison.Ordinal));

        var hello = await client.GetAsync("/hello", Ct);
        Assert.Equal(HttpStatusCode.OK, hello.StatusCode);
        Assert.Equal("Hello, world!\n", await hello.Content.ReadAsStringAsync(Ct));
    }

    [Theory]
    [InlineData("not wasm at all", "not a component: the file does not start with the WebAssembly magic bytes")]
    [InlineData(null, "this core module exports neither 'handle-http-request' (Spin ≤ 1.3) nor 'fermyon:spin/inbound-http#handle-request' (Spin 1.4/1.5); a WASI command needs executor = { type = \"wagi\" }")]
    public async Task A_bad_component_stops_startup_naming_the_component_and_the_problem(string? content, string problem)
    {
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "bad"
            [[trigger.http]]
            route = "/good"
            component = "good"
            [[trigger.http]]
            route = "/bad"
            component = "broken-one"
            [component.good]
            source = "{fixture:wat/http-hello.wasm}"
            [component.broken-one]
            source = "bad.wasm"
            """);
        // A Wagi module is a valid core module, but neither a component nor a first-generation Spin module: the http
        // executor must refuse it.
        var bytes = content is null ? File.ReadAllBytes(Paths.Fixture("wagi/echo.wasm")) : System.Text.Encoding.UTF8.GetBytes(content);
        app.WriteFile("bad.wasm", bytes);

        var e = await Assert.ThrowsAsync<SpindleStartupException>(() => app.StartAsync(runtime));
        Assert.Contains("broken-one", e.Message);
        Assert.Contains("bad.wasm", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain('\n', e.Message.TrimEnd());
    }

    [Fact]
    public async Task The_readme_quick_start_example_is_served()
    {
        var manifest = Path.Combine(Paths.RepoRoot, "examples", "hello", "spin.toml");
        foreach (var built in new[] { "hello.wasm", "greet.wasm" })
            Assert.True(File.Exists(Path.Combine(Paths.RepoRoot, "examples", "hello", "target", built)),
                $"examples/hello/target/{built} is not built: run 'bash scripts/build-fixtures.sh' first");

        await using var host = await TestApp.Start(runtime, manifest);
        using var client = TestApp.Client(host.BaseUrl);
        var hello = await client.GetStringAsync("/hello/world", Ct);
        Assert.Equal("Hello from JavaScript!\nGET /hello/world matched /hello/...\n", hello);
        var wagi = await client.GetStringAsync("/wagi/spindle", Ct);
        Assert.Equal("Hello from C, spindle!\n", wagi);
    }
}
