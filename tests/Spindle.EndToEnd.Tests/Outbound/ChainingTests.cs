using System.Net;
using System.Text.Json;
using Spindle.EndToEnd.Tests.Support;

namespace Spindle.EndToEnd.Tests.Outbound;

/// <summary>Local service chaining (<c>http://&lt;id&gt;.spin.internal</c>): in memory, under the caller's allow-list.</summary>
public sealed class ChainingTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_private_component_is_reached_in_memory_with_the_references_headers()
    {
        var log = new CapturedLog();
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "chain"
            [[trigger.http]]
            route = "/front/..."
            component = "front"
            [[trigger.http]]
            route = { private = true }
            component = "backend"
            [component.front]
            source = "{fixture:js/fetch-proxy.wasm}"
            allowed_outbound_hosts = ["http://*.spin.internal"]
            [component.backend]
            source = "{fixture:js/echo.wasm}"
            """);
        await using var host = await app.StartAsync(runtime, log);
        using var client = TestApp.Client(host.BaseUrl);

        var request = new HttpRequestMessage(HttpMethod.Post, "/front/x") { Content = new StringContent("through memory") };
        request.Headers.Add("x-target", "http://backend.spin.internal/api/items?x=1");
        request.Headers.Add("x-up-x-token", "abc");
        using var response = await client.SendAsync(request, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, log.Text);
        using var echo = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("POST", echo.RootElement.GetProperty("method").GetString());
        Assert.Equal("through memory", echo.RootElement.GetProperty("body").GetString());
        var headers = echo.RootElement.GetProperty("headers").EnumerateArray()
            .Select(h => (Name: h[0].GetString()!, Value: h[1].GetString()!)).ToList();
        string Header(string name) => headers.Single(h => h.Name == name).Value;
        Assert.Equal("abc", Header("x-token"));
        Assert.Equal("/api/items", Header("spin-path-info"));
        Assert.Equal("/...", Header("spin-matched-route"));
        Assert.Equal("/...", Header("spin-raw-component-route"));
        Assert.Equal("", Header("spin-component-route"));
        Assert.Equal("0.0.0.0:0", Header("spin-client-addr"));
        Assert.Equal("http://localhost/api/items?x=1", Header("spin-full-url"));
        Assert.DoesNotContain(headers, h => h.Name == "host");
        // The private component has no route of its own.
        using var direct = await client.GetAsync("/api/items", Ct);
        Assert.Equal(HttpStatusCode.NotFound, direct.StatusCode);
    }

    [Fact]
    public async Task Chaining_is_denied_unless_the_callers_allow_list_names_the_callee_scheme_and_port()
    {
        var log = new CapturedLog();
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "chain-denied"
            [[trigger.http]]
            route = "/..."
            component = "front"
            [[trigger.http]]
            route = { private = true }
            component = "backend"
            [component.front]
            source = "{fixture:wat/http-outbound.wasm}"
            allowed_outbound_hosts = ["http://other.spin.internal", "https://backend.spin.internal"]
            [component.other]
            source = "{fixture:wat/http-hello.wasm}"
            [component.backend]
            source = "{fixture:wat/http-hello.wasm}"
            """);
        // "other" has no trigger: allowed, but there is nothing to run.
        await using var host = await app.StartAsync(runtime, log);
        using var client = TestApp.Client(host.BaseUrl);

        async Task<string> ErrorCode(string scheme, string authority)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("x-scheme", scheme);
            request.Headers.Add("x-authority", authority);
            using var response = await client.SendAsync(request, Ct);
            return response.Headers.TryGetValues("x-error-code", out var v) ? v.Single() : $"status {(int)response.StatusCode}";
        }

        Assert.Equal("15", await ErrorCode("http", "backend.spin.internal"));
        Assert.Equal("15", await ErrorCode("https", "backend.spin.internal:8443"));
        Assert.Equal("status 200", await ErrorCode("https", "backend.spin.internal"));
        // Allowed, but "other" has no HTTP trigger: nothing to run (Spin traps; Spindle answers destination-not-found).
        Assert.Equal("2", await ErrorCode("http", "other.spin.internal"));
        Assert.Contains(log.Lines, l => l.Contains("may not send a request to http://backend.spin.internal/"));
    }

    [Fact]
    public async Task A_chain_loop_stops_at_the_hop_limit_and_the_server_keeps_serving()
    {
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "loop"
            [[trigger.http]]
            route = "/..."
            component = "loop"
            [component.loop]
            source = "{fixture:js/chain-loop.wasm}"
            allowed_outbound_hosts = ["http://loop.spin.internal"]
            """);
        await using var host = await app.StartAsync(runtime, configure: o => o with { Server = o.Server with { MaxChainDepth = 4 } });
        using var client = TestApp.Client(host.BaseUrl);

        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var response = await client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.LoopDetected, response.StatusCode);
        Assert.StartsWith("stopped at hop 4:", await response.Content.ReadAsStringAsync(Ct));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
        using var again = await client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.LoopDetected, again.StatusCode);
    }
}
