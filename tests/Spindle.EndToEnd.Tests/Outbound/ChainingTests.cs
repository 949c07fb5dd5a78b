using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
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

    [Fact]
    public async Task A_callee_body_larger_than_the_pipe_arrives_whole()
    {
        // Both bodies exceed the in-memory pipe's 256 KiB pause threshold: the callee waits for its caller to read.
        var log = new CapturedLog();
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "chain-big"
            [[trigger.http]]
            route = "/..."
            component = "front"
            [[trigger.http]]
            route = { private = true }
            component = "wat-big"
            [[trigger.http]]
            route = { private = true }
            component = "wagi-big"
            executor = { type = "wagi" }
            [component.front]
            source = "{fixture:wat/http-outbound.wasm}"
            allowed_outbound_hosts = ["http://*.spin.internal"]
            [component.wat-big]
            source = "{fixture:wat/http-big.wasm}"
            [component.wagi-big]
            source = "{fixture:wagi/big.wasm}"
            """);
        await using var host = await app.StartAsync(runtime, log);
        using var client = TestApp.Client(host.BaseUrl);

        async Task<byte[]> Through(string callee)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("x-scheme", "http");
            request.Headers.Add("x-authority", $"{callee}.spin.internal");
            using var response = await client.SendAsync(request, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, log.Text);
            Assert.Equal("200", response.Headers.GetValues("x-upstream-status").Single());
            return await response.Content.ReadAsByteArrayAsync(Ct);
        }

        // WAT: 1 MiB, byte i = i mod 251 (a wasi:http callee: the head goes out at its body's first flush).
        var wat = await Through("wat-big");
        Assert.Equal(1 << 20, wat.Length);
        Assert.True(wat.Select((b, i) => b == i % 251).All(ok => ok), "the WAT body's bytes differ");
        // Wagi: 10 MiB, 160 chunks of 64 KiB of 'a'..'z' (its writes come from the callee's own fiber).
        var wagi = await Through("wagi-big");
        Assert.Equal(160 * 65536, wagi.Length);
        Assert.True(wagi.Select((b, i) => b == 'a' + i % 65536 % 26).All(ok => ok), "the Wagi body's bytes differ");
    }

    [Fact]
    public async Task Callees_that_wait_answer_through_the_chain()
    {
        await using var upstream = await Upstream.StartAsync(context => context.Response.WriteAsync("from upstream"));
        var log = new CapturedLog();
        using var app = new TestApp($$"""
            spin_manifest_version = 2
            [application]
            name = "chain-wait"
            [[trigger.http]]
            route = "/wat/..."
            component = "wat-front"
            [[trigger.http]]
            route = "/js/..."
            component = "js-front"
            [[trigger.http]]
            route = { private = true }
            component = "sleeper"
            [[trigger.http]]
            route = { private = true }
            component = "streamer"
            [[trigger.http]]
            route = { private = true }
            component = "fetcher"
            [component.wat-front]
            source = "{fixture:wat/http-outbound.wasm}"
            allowed_outbound_hosts = ["http://*.spin.internal"]
            [component.js-front]
            source = "{fixture:js/fetch-proxy.wasm}"
            allowed_outbound_hosts = ["http://*.spin.internal"]
            [component.sleeper]
            source = "{fixture:js/sleep.wasm}"
            [component.streamer]
            source = "{fixture:js/stream.wasm}"
            [component.fetcher]
            source = "{fixture:js/fetch-proxy.wasm}"
            allowed_outbound_hosts = ["{{upstream.BaseUrl}}"]
            """);
        await using var host = await app.StartAsync(runtime, log);
        using var client = TestApp.Client(host.BaseUrl);

        async Task<string> Wat(string callee)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/wat/");
            request.Headers.Add("x-scheme", "http");
            request.Headers.Add("x-authority", $"{callee}.spin.internal");
            using var response = await client.SendAsync(request, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, log.Text);
            Assert.Equal("200", response.Headers.GetValues("x-upstream-status").Single());
            return await response.Content.ReadAsStringAsync(Ct);
        }

        // A host timer (100 ms) before the head.
        Assert.Equal("slept\n", await Wat("sleeper"));
        // The head first, then 20 chunks 50 ms apart.
        var lines = (await Wat("streamer")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(20, lines.Length);
        Assert.All(lines, (line, i) => Assert.StartsWith($"chunk {i} at ", line));
        // The callee's own outbound request, over loopback.
        var fetch = new HttpRequestMessage(HttpMethod.Get, "/js/");
        fetch.Headers.Add("x-target", "http://fetcher.spin.internal/");
        fetch.Headers.Add("x-up-x-target", upstream.BaseUrl + "/up");
        using var fetched = await client.SendAsync(fetch, Ct);
        Assert.True(fetched.StatusCode == HttpStatusCode.OK, log.Text);
        Assert.Equal("from upstream", await fetched.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_chain_loop_stops_at_the_default_hop_limit()
    {
        // Ten callees nested in one another, each started as its caller waits.
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "loop-default"
            [[trigger.http]]
            route = "/..."
            component = "loop"
            [component.loop]
            source = "{fixture:js/chain-loop.wasm}"
            allowed_outbound_hosts = ["http://loop.spin.internal"]
            """);
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);

        using var response = await client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.LoopDetected, response.StatusCode);
        Assert.StartsWith("stopped at hop 10:", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task The_callee_starts_in_its_callers_driver_off_the_fiber_without_a_pool_hop()
    {
        using var capture = new TelemetryCapture("inline-front", "inline-back");
        var log = new CapturedLog();
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "chain-inline"
            [[trigger.http]]
            route = "/..."
            component = "inline-front"
            [[trigger.http]]
            route = { private = true }
            component = "inline-back"
            [component.inline-front]
            source = "{fixture:wat/http-outbound.wasm}"
            allowed_outbound_hosts = ["http://inline-back.spin.internal"]
            [component.inline-back]
            source = "{fixture:wat/http-hello.wasm}"
            """);
        await using var host = await app.StartAsync(runtime, log);
        using var client = TestApp.Client(host.BaseUrl);

        var (traceParent, traceId, _) = capture.Trace();
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("traceparent", traceParent);
        request.Headers.Add("x-scheme", "http");
        request.Headers.Add("x-authority", "inline-back.spin.internal");
        using var response = await client.SendAsync(request, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, log.Text);
        Assert.Equal("200", response.Headers.GetValues("x-upstream-status").Single());

        await TelemetryCapture.WaitUntilAsync(() => capture.Spans(traceId).Count >= 5, "five spans of the trace");
        var spans = capture.Spans(traceId);
        var call = capture.StartOf(Assert.Single(spans, s => s.Kind == ActivityKind.Client));
        var callee = capture.StartOf(Assert.Single(spans, s => s.Kind == ActivityKind.Server && (string?)s.GetTagItem("spindle.component.id") == "inline-back"));
        const string Driver = "Spindle.Wasmtime.CallFutureDriver+<DriveAsync>";
        // The call starts in the caller's guest (a host function on its fiber); the callee starts afterwards, off the
        // fiber, from the caller's own driver (with Task.Run it would start from a pool thread's dispatch loop).
        Assert.True(call.InsideGuest);
        Assert.False(callee.InsideGuest);
        Assert.Contains(callee.Frames, f => f.StartsWith(Driver, StringComparison.Ordinal));
        // Polled directly (not moved to a pooling engine's poller thread): the same thread throughout.
        if (!call.Frames.Any(f => f.StartsWith("Spindle.Wasmtime.Interop.PollRouter", StringComparison.Ordinal)))
            Assert.Equal(call.Thread, callee.Thread);
    }
}
