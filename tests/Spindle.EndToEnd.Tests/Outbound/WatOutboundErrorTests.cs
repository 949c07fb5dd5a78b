using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Spindle.EndToEnd.Tests.Support;
using static Spindle.EndToEnd.Tests.Support.WatOutbound.ErrorCode;

namespace Spindle.EndToEnd.Tests.Outbound;

/// <summary>
/// Every way an outbound request can fail, seen by a real guest (the WAT outbound fixture) in a real
/// <c>SpindleHost</c> against real loopback upstreams: the wasi:http <c>error-code</c> it gets, and that nothing
/// reached the upstream when nothing should have.
/// </summary>
public sealed class WatOutboundErrorTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static Task Ok(HttpContext http) => http.Response.WriteAsync("ok", http.RequestAborted);

    private static Task EchoProtocol(HttpContext http) => http.Response.WriteAsync(http.Request.Protocol, http.RequestAborted);

    /// <summary>Starts the one-component app allowing <paramref name="allowed"/>, with an optional runtime config and h2c authority.</summary>
    private async Task<(TestApp App, Spindle.Hosting.SpindleHost Host, HttpClient Client)> StartAsync(IEnumerable<string> allowed,
        string? runtimeConfig = null, string? h2c = null, Action<TestApp>? files = null, CapturedLog? log = null)
    {
        var app = new TestApp(WatOutbound.Manifest(allowed));
        files?.Invoke(app);
        var configPath = runtimeConfig is null ? null : app.WriteFile("runtime-config.toml", runtimeConfig);
        var host = await app.StartAsync(runtime, log, o => WatOutbound.With(o, runtimeConfigPath: configPath, h2cPriorKnowledge: h2c));
        return (app, host, TestApp.Client(host.BaseUrl));
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public async Task A_denied_host_or_port_fails_with_HTTP_request_denied_and_makes_no_connection()
    {
        await using var upstream = await Upstream.StartAsync(Ok);
        var log = new CapturedLog();
        // Allowed: another host on the upstream's port, and the upstream's host on another port.
        var (app, host, client) = await StartAsync([$"http://localhost:{upstream.Port}", $"http://127.0.0.1:{upstream.Port + 1}"], log: log);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var deniedHost = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/x"), Ct);
        Assert.Equal(HttpRequestDenied, deniedHost.ErrorCode);
        var deniedPort = await client.SendWatAsync(WatRequest.For($"http://localhost:{upstream.Port + 2}/x"), Ct);
        Assert.Equal(HttpRequestDenied, deniedPort.ErrorCode);
        var deniedScheme = await client.SendWatAsync(WatRequest.For($"https://localhost:{upstream.Port}/x"), Ct);
        Assert.Equal(HttpRequestDenied, deniedScheme.ErrorCode);
        Assert.Equal(0, upstream.Connections);
        Assert.Equal(3, log.Lines.Count(l => l.Contains("may not send a request to")));

        // The allowed name does reach it.
        var allowed = await client.SendWatAsync(WatRequest.For($"http://localhost:{upstream.Port}/x"), Ct);
        Assert.True(allowed.UpstreamStatus == 200, allowed.ToString());
        Assert.Equal("ok", allowed.Text);
        Assert.Equal(1, upstream.Requests);
    }

    [Theory]
    // "::1/128" too: where localhost also resolves to ::1 (not on every machine), 127.0.0.0/8 alone would leave an address to try.
    [InlineData("\"127.0.0.0/8\", \"::1/128\"")]
    [InlineData("\"private\"")]
    public async Task A_blocked_network_fails_with_destination_IP_prohibited_before_any_connection(string blocked)
    {
        await using var upstream = await Upstream.StartAsync(Ok);
        string[] allowed = [$"http://localhost:{upstream.Port}", $"http://127.0.0.1:{upstream.Port}"];

        // Control: the same allow-list without blocked networks reaches the upstream.
        {
            var (app, host, client) = await StartAsync(allowed);
            using var _ = app;
            await using var __ = host;
            using var ___ = client;
            var reached = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/"), Ct);
            Assert.True(reached.UpstreamStatus == 200, reached.ToString());
        }
        var connections = upstream.Connections;

        {
            var (app, host, client) = await StartAsync(allowed, $"""
                [outbound_networking]
                block_networks = [{blocked}]
                """);
            using var _ = app;
            await using var __ = host;
            using var ___ = client;
            var byName = await client.SendWatAsync(WatRequest.For($"http://localhost:{upstream.Port}/"), Ct);
            Assert.True(byName.ErrorCode == DestinationIpProhibited, byName.ToString());
            var byAddress = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/"), Ct);
            Assert.True(byAddress.ErrorCode == DestinationIpProhibited, byAddress.ToString());
            Assert.Equal(connections, upstream.Connections);
        }
    }

    [Fact]
    public async Task A_port_nobody_listens_on_fails_with_connection_refused()
    {
        var port = FreePort();
        var (app, host, client) = await StartAsync([$"http://127.0.0.1:{port}"]);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var reply = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{port}/"), Ct);
        Assert.True(reply.ErrorCode == ConnectionRefused, reply.ToString());
    }

    [Fact]
    public async Task A_name_that_does_not_resolve_fails_promptly_with_DNS_error()
    {
        var (app, host, client) = await StartAsync(["http://*.invalid:*", "http://nothing.invalid"]);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var clock = Stopwatch.StartNew();
        var wildcard = await client.SendWatAsync(WatRequest.For("http://spindle-test.nothing.invalid:8080/"), Ct);
        Assert.True(wildcard.ErrorCode == DnsError, wildcard.ToString());
        var exact = await client.SendWatAsync(WatRequest.For("http://nothing.invalid/"), Ct);
        Assert.True(exact.ErrorCode == DnsError, exact.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_connect_that_hangs_fails_with_connection_timeout_after_the_guests_connect_timeout()
    {
        using var hole = await SynBlackHole.CreateAsync(Ct);
        if (hole is null)
            Assert.Skip("this platform refuses, rather than drops, connections to a full accept queue");
        var (app, host, client) = await StartAsync([$"http://127.0.0.1:{hole.Port}"]);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var clock = Stopwatch.StartNew();
        var reply = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{hole.Port}/") with { ConnectTimeout = TimeSpan.FromMilliseconds(300) }, Ct);
        Assert.True(reply.ErrorCode == ConnectionTimeout, reply.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"took only {clock.Elapsed}");
    }

    [Fact]
    public async Task An_upstream_slow_to_answer_fails_with_connection_read_timeout_after_the_first_byte_timeout()
    {
        await using var upstream = await Upstream.StartAsync(async http =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), http.RequestAborted);
            await http.Response.WriteAsync("too late", http.RequestAborted);
        });
        var (app, host, client) = await StartAsync([$"http://127.0.0.1:{upstream.Port}"]);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var clock = Stopwatch.StartNew();
        var reply = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/") with { FirstByteTimeout = TimeSpan.FromMilliseconds(300) }, Ct);
        Assert.True(reply.ErrorCode == ConnectionReadTimeout, reply.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal(1, upstream.Requests);
    }

    [Fact]
    public async Task Max_connections_1_makes_a_second_request_wait_for_the_permit_within_its_connect_timeout()
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await Upstream.StartAsync(async http =>
        {
            if (http.Request.Path == "/hold")
            {
                seen.TrySetResult();
                await release.Task.WaitAsync(TimeSpan.FromSeconds(30), http.RequestAborted);
            }
            await http.Response.WriteAsync("done " + http.Request.Path, http.RequestAborted);
        });
        var (app, host, client) = await StartAsync([$"http://127.0.0.1:{upstream.Port}"], """
            [outbound_http]
            max_connections = 1
            """);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var first = client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/hold"), Ct);
        await seen.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);

        var clock = Stopwatch.StartNew();
        var second = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/second") with { ConnectTimeout = TimeSpan.FromMilliseconds(500) }, Ct);
        Assert.True(second.ErrorCode == ConnectionTimeout, second.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal(1, upstream.Connections);

        release.SetResult();
        var held = await first.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.True(held.UpstreamStatus == 200, held.ToString());
        Assert.Equal("done /hold", held.Text);

        // The permit came back: a connect timeout long enough to notice a leak, short enough to fail rather than hang.
        var third = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/third") with { ConnectTimeout = TimeSpan.FromSeconds(10) }, Ct);
        Assert.True(third.UpstreamStatus == 200, third.ToString());
        Assert.Equal("done /third", third.Text);
    }

    [Fact]
    public async Task Max_connections_0_fails_with_connection_limit_reached_and_makes_no_connection()
    {
        await using var upstream = await Upstream.StartAsync(Ok);
        var (app, host, client) = await StartAsync([$"http://127.0.0.1:{upstream.Port}"], """
            [outbound_http]
            max_connections = 0
            """);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var reply = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/"), Ct);
        Assert.True(reply.ErrorCode == ConnectionLimitReached, reply.ToString());
        Assert.Equal(0, upstream.Connections);
    }

    [Fact]
    public async Task Forbidden_request_headers_are_refused_by_fields_append_and_nothing_is_sent()
    {
        string[] forbidden = ["host", "connection", "transfer-encoding", "upgrade", "proxy-authorization", "keep-alive", "http2-settings"];
        await using var upstream = await Upstream.StartAsync(async http =>
            await http.Response.WriteAsync(http.Request.Headers["x-extra"].ToString(), http.RequestAborted));
        var (app, host, client) = await StartAsync([$"http://127.0.0.1:{upstream.Port}"]);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var failures = new List<string>();
        foreach (var name in forbidden.Concat(forbidden.Select(n => n.ToUpperInvariant())))
        {
            var reply = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/") with { ForbiddenHeader = name }, Ct);
            if (reply.HeaderError != 1 || reply.UpstreamStatus is not null)
                failures.Add($"{name}: {reply}");
        }
        Assert.Empty(failures);
        Assert.Equal(0, upstream.Requests);

        // Control: an ordinary name is appended and the request goes out with it.
        var ordinary = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/") with { ForbiddenHeader = "x-extra" }, Ct);
        Assert.True(ordinary.UpstreamStatus == 200, ordinary.ToString());
        Assert.Equal("x", ordinary.Text);
        Assert.Equal(1, upstream.Requests);
    }

    [Fact]
    public async Task An_untrusted_certificate_fails_with_a_TLS_error_and_the_upstream_sees_no_request()
    {
        using var pki = new TestPki();
        using var leaf = pki.IssueServer("127.0.0.1", "localhost");
        await using var upstream = await Upstream.StartAsync(EchoProtocol, certificate: leaf);
        var (app, host, client) = await StartAsync([$"https://127.0.0.1:{upstream.Port}"]);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var reply = await client.SendWatAsync(WatRequest.For($"https://127.0.0.1:{upstream.Port}/"), Ct);
        Assert.True(reply.ErrorCode is TlsCertificateError or TlsProtocolError, reply.ToString());
        Assert.Equal(0, upstream.Requests);
    }

    [Fact]
    public async Task Client_tls_ca_roots_make_a_private_CA_trusted_and_ALPN_picks_HTTP_2()
    {
        using var pki = new TestPki();
        using var leaf = pki.IssueServer("127.0.0.1", "localhost");
        await using var upstream = await Upstream.StartAsync(EchoProtocol, certificate: leaf);
        var (app, host, client) = await StartAsync([$"https://127.0.0.1:{upstream.Port}", $"https://localhost:{upstream.Port}"], $"""
            [[client_tls]]
            component_ids = ["out"]
            hosts = ["127.0.0.1:{upstream.Port}"]
            ca_roots_file = "ca.pem"
            """, files: a => a.WriteFile("ca.pem", pki.CaPem));
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var reply = await client.SendWatAsync(WatRequest.For($"https://127.0.0.1:{upstream.Port}/"), Ct);
        Assert.True(reply.UpstreamStatus == 200, reply.ToString());
        Assert.Equal("HTTP/2", reply.Text);

        // The entry names 127.0.0.1:port only: the same server by another name gets the default trust, and fails.
        var otherName = await client.SendWatAsync(WatRequest.For($"https://localhost:{upstream.Port}/"), Ct);
        Assert.True(otherName.ErrorCode is TlsCertificateError or TlsProtocolError, otherName.ToString());
        Assert.Equal(1, upstream.Requests);
    }

    [Fact]
    public async Task A_relative_request_needs_a_self_entry()
    {
        using var app = new TestApp($$"""
            spin_manifest_version = 2
            [application]
            name = "relative"
            [[trigger.http]]
            route = "/no-self/..."
            component = "no-self"
            [[trigger.http]]
            route = "/with-self/..."
            component = "with-self"
            [[trigger.http]]
            route = "/hello"
            component = "hello"
            [component.no-self]
            source = "{{WatOutbound.Fixture}}"
            allowed_outbound_hosts = ["http://example.com", "http://127.0.0.1:*", "http://localhost:*"]
            [component.with-self]
            source = "{{WatOutbound.Fixture}}"
            allowed_outbound_hosts = ["http://self"]
            [component.hello]
            source = "{fixture:wat/http-hello.wasm}"
            """);
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);

        // Even an entry for the host's own address does not allow a relative request.
        var denied = await client.SendWatAsync(new WatRequest { Route = "/no-self/", Path = "/hello" }, Ct);
        Assert.True(denied.ErrorCode == HttpRequestDenied, denied.ToString());

        var allowed = await client.SendWatAsync(new WatRequest { Route = "/with-self/", Path = "/hello" }, Ct);
        Assert.True(allowed.UpstreamStatus == 200, allowed.ToString());
        Assert.NotEmpty(allowed.Body);
    }

    [Fact]
    public async Task A_10_MB_body_streams_each_way_through_the_guest()
    {
        var payload = RandomNumberGenerator.GetBytes(10 << 20);
        await using var upstream = await Upstream.StartAsync(Upstream.HashPostsServe(payload));
        var (app, host, client) = await StartAsync([$"http://127.0.0.1:{upstream.Port}"]);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var up = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/upload") with
        {
            Method = "POST",
            Body = new ByteArrayContent(payload),
        }, Ct);
        Assert.True(up.UpstreamStatus == 200, up.ToString());
        Assert.Equal($"{payload.Length} {Convert.ToHexString(SHA256.HashData(payload))}", up.Text);

        var down = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/download"), Ct);
        Assert.True(down.UpstreamStatus == 200, $"status {down.Status}, error {down.ErrorCode}");
        Assert.Equal(payload.Length, down.Body.Length);
        Assert.True(payload.AsSpan().SequenceEqual(down.Body), "the downloaded body differs");
    }

    [Fact]
    public async Task A_response_with_trailers_still_streams_its_body()
    {
        // The guest cannot report trailers; this only proves that a response carrying them reaches it intact.
        // HTTP/2 (h2c): Kestrel sends no trailers over HTTP/1.1.
        await using var upstream = await Upstream.StartAsync(async http =>
        {
            Assert.True(http.Response.SupportsTrailers());
            http.Response.DeclareTrailer("x-checksum");
            await http.Response.WriteAsync("chunk one;", http.RequestAborted);
            await http.Response.Body.FlushAsync(http.RequestAborted);
            await http.Response.WriteAsync("chunk two", http.RequestAborted);
            http.Response.AppendTrailer("x-checksum", "abc");
        }, h2c: true);
        var (app, host, client) = await StartAsync([$"http://127.0.0.1:{upstream.Port}"], h2c: $"127.0.0.1:{upstream.Port}");
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var reply = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/"), Ct);
        Assert.True(reply.UpstreamStatus == 200, reply.ToString());
        Assert.Equal("chunk one;chunk two", reply.Text);
    }

    [Fact]
    public async Task H2c_prior_knowledge_reaches_an_HTTP_2_only_server_and_HTTP_1_1_does_not()
    {
        await using var upstream = await Upstream.StartAsync(EchoProtocol, h2c: true);
        string[] allowed = [$"http://127.0.0.1:{upstream.Port}"];
        {
            var (app, host, client) = await StartAsync(allowed, h2c: $"127.0.0.1:{upstream.Port}");
            using var _ = app;
            await using var __ = host;
            using var ___ = client;
            var reply = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/"), Ct);
            Assert.True(reply.UpstreamStatus == 200, reply.ToString());
            Assert.Equal("HTTP/2", reply.Text);
        }
        Assert.Equal(1, upstream.Requests);
        {
            var (app, host, client) = await StartAsync(allowed);
            using var _ = app;
            await using var __ = host;
            using var ___ = client;
            var reply = await client.SendWatAsync(WatRequest.For($"http://127.0.0.1:{upstream.Port}/"), Ct);
            // Kestrel answers an HTTP/1.1 request on an HTTP/2-only endpoint with its own 400 (its app never runs);
            // another server may just fail the connection.
            Assert.True(reply.ErrorCode is not null || (reply.UpstreamStatus == 400 && reply.Text.Contains("HTTP/2 only")), reply.ToString());
        }
        Assert.Equal(1, upstream.Requests);
    }
}
