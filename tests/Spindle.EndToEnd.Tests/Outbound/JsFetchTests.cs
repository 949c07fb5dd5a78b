using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Spindle.EndToEnd.Tests.Support;

namespace Spindle.EndToEnd.Tests.Outbound;

/// <summary>JavaScript <c>fetch</c> (both toolchains) through Spindle's outbound path to real loopback upstreams.</summary>
public sealed class JsFetchTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static string Manifest(string fixture, string allowed) => $$"""
        spin_manifest_version = 2
        [application]
        name = "fetch"
        [[trigger.http]]
        route = "/..."
        component = "proxy"
        [component.proxy]
        source = "{fixture:{{fixture}}}"
        allowed_outbound_hosts = [{{allowed}}]
        """;

    private static HttpRequestMessage Get(string target) => new(HttpMethod.Get, "/") { Headers = { { "x-target", target } } };

    [Fact]
    public async Task Get_and_post_carry_headers_both_ways()
    {
        await using var upstream = await Upstream.StartAsync(async http =>
        {
            http.Response.Headers["x-seen-token"] = http.Request.Headers["x-token"];
            http.Response.Headers["x-method"] = http.Request.Method;
            http.Response.StatusCode = 201;
            await http.Request.Body.CopyToAsync(http.Response.Body, http.RequestAborted);
        });
        using var app = new TestApp(Manifest("js/fetch-proxy.wasm", $"\"http://127.0.0.1:{upstream.Port}\""));
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);

        var get = Get(upstream.BaseUrl + "/hello?q=1");
        get.Headers.Add("x-up-x-token", "abc");
        using var got = await client.SendAsync(get, Ct);
        Assert.Equal(HttpStatusCode.Created, got.StatusCode);
        Assert.Equal("abc", got.Headers.GetValues("x-seen-token").Single());
        Assert.Equal("GET", got.Headers.GetValues("x-method").Single());

        var post = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent("payload from the client") };
        post.Headers.Add("x-target", upstream.BaseUrl + "/echo");
        using var posted = await client.SendAsync(post, Ct);
        Assert.Equal("POST", posted.Headers.GetValues("x-method").Single());
        Assert.Equal("payload from the client", await posted.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_denied_host_or_port_gets_no_connection_and_one_log_line_without_the_query()
    {
        await using var upstream = await Upstream.StartAsync(http => http.Response.WriteAsync("should not be reached"));
        var log = new CapturedLog();
        // Allowed: another port on the same host, and another host on the upstream's port.
        using var app = new TestApp(Manifest("js/fetch-proxy.wasm", $"\"http://127.0.0.1:{upstream.Port + 1}\", \"http://localhost:{upstream.Port}\""));
        await using var host = await app.StartAsync(runtime, log);
        using var client = TestApp.Client(host.BaseUrl);

        using var response = await client.SendAsync(Get(upstream.BaseUrl + "/secret?token=hunter2"), Ct);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        using var https = await client.SendAsync(Get($"https://127.0.0.1:{upstream.Port}/"), Ct);
        Assert.Equal(HttpStatusCode.BadGateway, https.StatusCode);
        Assert.Equal(0, upstream.Connections);
        var denied = log.Lines.Where(l => l.Contains("may not send a request to")).ToList();
        Assert.Equal(2, denied.Count);
        Assert.Contains($"http://127.0.0.1:{upstream.Port}/secret", denied[0]);
        Assert.Contains("'proxy'", denied[0]);
        Assert.DoesNotContain("hunter2", log.Text);
    }

    [Fact]
    public async Task A_10_MB_body_goes_each_way()
    {
        var payload = RandomNumberGenerator.GetBytes(10 << 20);
        await using var upstream = await Upstream.StartAsync(Upstream.HashPostsServe(payload));
        using var app = new TestApp(Manifest("js/fetch-proxy.wasm", $"\"http://127.0.0.1:{upstream.Port}\""));
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);

        var down = await client.SendAsync(Get(upstream.BaseUrl + "/big"), Ct);
        Assert.Equal(HttpStatusCode.OK, down.StatusCode);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(await down.Content.ReadAsByteArrayAsync(Ct)));

        var post = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new ByteArrayContent(payload) };
        post.Headers.Add("x-target", upstream.BaseUrl + "/upload");
        using var up = await client.SendAsync(post, Ct);
        Assert.Equal($"{payload.Length} {Convert.ToHexString(SHA256.HashData(payload))}", await up.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_streamed_upstream_response_reaches_the_client_before_the_upstream_finishes()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await Upstream.StartAsync(async http =>
        {
            await http.Response.WriteAsync("first part\n", http.RequestAborted);
            await http.Response.Body.FlushAsync(http.RequestAborted);
            await release.Task.WaitAsync(TimeSpan.FromSeconds(30), http.RequestAborted);
            await http.Response.WriteAsync("second part\n", http.RequestAborted);
        });
        using var app = new TestApp(Manifest("js/fetch-proxy.wasm", $"\"http://127.0.0.1:{upstream.Port}\""));
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);

        using var response = await client.SendAsync(Get(upstream.BaseUrl + "/stream"), HttpCompletionOption.ResponseHeadersRead, Ct);
        var body = await response.Content.ReadAsStreamAsync(Ct);
        var buffer = new byte[64];
        using var firstBytes = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        firstBytes.CancelAfter(TimeSpan.FromSeconds(10));
        var n = await body.ReadAsync(buffer, firstBytes.Token);
        Assert.StartsWith("first", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        release.SetResult();
        var rest = await new StreamReader(body).ReadToEndAsync(Ct);
        Assert.EndsWith("second part\n", System.Text.Encoding.ASCII.GetString(buffer, 0, n) + rest);
    }

    [Fact]
    public async Task Spin_JS_SDK_fetch_works_and_is_denied_the_same_way()
    {
        await using var upstream = await Upstream.StartAsync(http => http.Response.WriteAsync("hello from upstream"));
        using var app = new TestApp(Manifest("spinjs/fetch-proxy.wasm", $"\"http://127.0.0.1:{upstream.Port}\""));
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);

        using var ok = await client.SendAsync(Get(upstream.BaseUrl + "/"), Ct);
        Assert.Equal("hello from upstream", await ok.Content.ReadAsStringAsync(Ct));
        var connections = upstream.Connections;
        using var denied = await client.SendAsync(Get($"http://localhost:{upstream.Port}/"), Ct);
        Assert.Equal(HttpStatusCode.BadGateway, denied.StatusCode);
        Assert.Equal(connections, upstream.Connections);
    }

    [Fact]
    public async Task A_templated_entry_is_resolved_from_a_variable_at_request_time()
    {
        await using var upstream = await Upstream.StartAsync(http => http.Response.WriteAsync("templated"));
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "templated"
            [variables]
            upstream_port = { required = true }
            [[trigger.http]]
            route = "/..."
            component = "proxy"
            [component.proxy]
            source = "{fixture:js/fetch-proxy.wasm}"
            allowed_outbound_hosts = ["http://127.0.0.1:{{ upstream_port }}"]
            """);
        await using var host = await app.StartAsync(runtime, configure: o => o with { Variables = [new("upstream_port", upstream.Port.ToString())] });
        using var client = TestApp.Client(host.BaseUrl);

        using var allowed = await client.SendAsync(Get(upstream.BaseUrl + "/"), Ct);
        Assert.Equal("templated", await allowed.Content.ReadAsStringAsync(Ct));
        using var otherPort = await client.SendAsync(Get($"http://127.0.0.1:{upstream.Port + 1}/"), Ct);
        Assert.Equal(HttpStatusCode.BadGateway, otherPort.StatusCode);
        Assert.Equal(1, upstream.Requests);
    }
}
