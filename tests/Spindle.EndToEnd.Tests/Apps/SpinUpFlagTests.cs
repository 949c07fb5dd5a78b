using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Spindle.Engine;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>
/// Spin's <c>spin up</c> flags that Spindle takes with the same names: <c>--find-free-port</c>, <c>--format</c>,
/// <c>--http1-max-buf-size</c>, <c>-c/--component-id</c> (here through <see cref="SpindleHostOptions"/>, which the
/// CLI fills from them), and <c>--max-instance-memory</c> (through <see cref="SpindleEngineOptions"/>).
/// </summary>
public sealed class SpinUpFlagTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private const string Manifest = """
        spin_manifest_version = 2
        [application]
        name = "flags"
        [[trigger.http]]
        route = "/hello"
        component = "hello"
        [[trigger.http]]
        route = "/other/..."
        component = "other"
        [[trigger.http]]
        route = "/proxy"
        component = "proxy"
        [[trigger.http]]
        route = "/static"
        static_response = { body = "fixed" }
        [component.hello]
        source = "{fixture:wat/http-hello.wasm}"
        description = "says hello"
        [component.other]
        source = "{fixture:wat/http-hello.wasm}"
        [component.proxy]
        source = "{fixture:js/fetch-proxy.wasm}"
        allowed_outbound_hosts = ["http://*.spin.internal"]
        """;

    [Fact]
    public async Task Find_free_port_takes_the_next_free_one_and_without_it_a_taken_port_says_so()
    {
        using var app = new TestApp(Manifest);
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var refused = await Assert.ThrowsAsync<SpindleStartupException>(() =>
            app.StartAsync(runtime, configure: o => o with { ListenAddress = $"127.0.0.1:{port}" }));
        Assert.Equal($"cannot listen on 127.0.0.1:{port}: address already in use (--find-free-port tries the next 9 ports)", refused.Message);

        await using var host = await app.StartAsync(runtime, configure: o => o with { ListenAddress = $"127.0.0.1:{port}", FindFreePort = true });
        Assert.InRange(host.BaseUrl.Port, port + 1, port + 9);
        using var client = TestApp.Client(host.BaseUrl);
        Assert.Equal("Hello, world!\n", await client.GetStringAsync("/hello", Ct));
    }

    [Fact]
    public async Task Format_json_lists_the_base_url_and_the_routes_as_spin_up_does()
    {
        using var app = new TestApp(Manifest);
        var output = new StringWriter();
        await using var host = await app.StartAsync(runtime, configure: o => o with { Output = output, RouteListing = RouteListingFormat.Json });
        using var listing = JsonDocument.Parse(output.ToString());
        Assert.Equal(host.BaseUrl.GetLeftPart(UriPartial.Authority), listing.RootElement.GetProperty("base_url").GetString());
        var routes = listing.RootElement.GetProperty("routes").EnumerateArray().ToList();
        var hello = routes.Single(r => r.GetProperty("id").GetString() == "hello");
        Assert.Equal("/hello", hello.GetProperty("route").GetString());
        Assert.False(hello.GetProperty("wildcard").GetBoolean());
        Assert.Equal("says hello", hello.GetProperty("description").GetString());
        var other = routes.Single(r => r.GetProperty("id").GetString() == "other");
        Assert.Equal("/other", other.GetProperty("route").GetString());
        Assert.True(other.GetProperty("wildcard").GetBoolean());
        Assert.False(other.TryGetProperty("description", out _));
        Assert.Equal(4, routes.Count);
    }

    [Fact]
    public async Task Http1_max_buf_size_bounds_the_request_head()
    {
        using var app = new TestApp(Manifest);
        var large = new string('x', 10_000);
        await using (var bounded = await app.StartAsync(runtime, configure: o => o with { Server = o.Server with { Http1MaxBufferSize = 8192 } }))
        {
            using var client = TestApp.Client(bounded.BaseUrl);
            Assert.Equal("Hello, world!\n", await client.GetStringAsync("/hello", Ct));
            using var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
            request.Headers.Add("x-large", large);
            using var response = await client.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        }
        await using (var unbounded = await app.StartAsync(runtime))
        {
            using var client = TestApp.Client(unbounded.BaseUrl);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
            request.Headers.Add("x-large", large);
            using var response = await client.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var tooSmall = await Assert.ThrowsAsync<SpindleStartupException>(() => app.StartAsync(runtime, configure: o => o with { Server = o.Server with { Http1MaxBufferSize = 4096 } }));
        Assert.Equal("Spindle:Server:Http1MaxBufferSize = 4096: must be at least 8192 bytes, or unset for Kestrel's defaults", tooSmall.Message);
    }

    [Fact]
    public async Task Component_id_runs_only_the_named_components_and_chaining_to_another_fails()
    {
        using var app = new TestApp(Manifest);
        var log = new CapturedLog();
        await using var host = await app.StartAsync(runtime, log, o => o with { ComponentIds = ["hello", "proxy"] });
        using var client = TestApp.Client(host.BaseUrl);
        Assert.Equal("Hello, world!\n", await client.GetStringAsync("/hello", Ct));
        Assert.Equal("fixed", await client.GetStringAsync("/static", Ct)); // static responses stay
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/other/x", Ct)).StatusCode);

        using var chained = new HttpRequestMessage(HttpMethod.Get, "/proxy");
        chained.Headers.Add("x-target", "http://other.spin.internal/x");
        using var response = await client.SendAsync(chained, Ct);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        // "*.spin.internal" stands for the components that run: "other" is not one of them.
        Assert.True(log.Lines.Any(l => l.Contains("may not send a request to http://other.spin.internal/x")), log.Text);

        var unknown = await Assert.ThrowsAsync<SpindleStartupException>(() => app.StartAsync(runtime, configure: o => o with { ComponentIds = ["nope"] }));
        Assert.Equal("--component-id 'nope': the application has no such component (it has: hello, other, proxy)", unknown.Message);
    }

    [Fact]
    public async Task Max_instance_memory_fails_a_guests_memory_grow_and_the_server_keeps_serving()
    {
        // The WAT hello, growing its memory by 320 pages (20 MiB) before it answers; a failed grow traps (500).
        var hello = File.ReadAllText(Path.Combine(Paths.FixtureSources, "wat", "http-hello.wat"));
        const string Anchor = "(call $request-drop (local.get $request))";
        Assert.Contains(Anchor, hello);
        var grower = hello.Replace(Anchor, Anchor + " (if (i32.eq (memory.grow (i32.const 320)) (i32.const -1)) (then unreachable))");
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "grow"
            [[trigger.http]]
            route = "/grow"
            component = "grow"
            [[trigger.http]]
            route = "/hello"
            component = "hello"
            [component.grow]
            source = "grow.wasm"
            [component.hello]
            source = "{fixture:wat/http-hello.wasm}"
            """);
        app.WriteFile("grow.wasm", Spindle.Wasmtime.Wat.ToWasm(grower));

        await using (var unlimited = await app.StartAsync(runtime))
        {
            using var client = TestApp.Client(unlimited.BaseUrl);
            Assert.Equal("Hello, world!\n", await client.GetStringAsync("/grow", Ct));
        }
        using var limited = SpindleEngine.Create(new SpindleEngineOptions { Pooling = false, MaxInstanceMemory = 16 << 20 });
        var log = new CapturedLog();
        await using (var host = await app.StartAsync(runtime, log, o => o with { Executors = limited.CreateRegistry() }))
        {
            using var client = TestApp.Client(host.BaseUrl);
            for (var i = 0; i < 3; i++)
                Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync("/grow", Ct)).StatusCode);
            Assert.Contains(log.Lines, l => l.Contains("Component grow failed") && l.Contains("unreachable"));
            Assert.Equal("Hello, world!\n", await client.GetStringAsync("/hello", Ct));
        }
    }

    [Fact]
    public async Task Log_dir_keeps_every_components_output_and_follow_limits_what_the_console_shows()
    {
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "logs"
            [[trigger.http]]
            route = "/a/..."
            component = "a"
            [[trigger.http]]
            route = "/b/..."
            component = "b"
            [component.a]
            source = "{fixture:legacy/spin-v1.wasm}"
            [component.b]
            source = "{fixture:legacy/spin-v2.wasm}"
            """);
        var logs = Path.Combine(app.Dir, "logs");
        var console = new CapturedLog(); // stands for the console: every provider but the log files is filtered alike
        await using (var host = await app.StartAsync(runtime, console, o => o with { LogDirectory = logs, FollowComponents = ["a"] }))
        {
            using var client = TestApp.Client(host.BaseUrl);
            for (var i = 0; i < 2; i++)
            {
                await client.GetStringAsync("/a/env", Ct);
                await client.GetStringAsync("/b/env", Ct);
            }
        }
        Assert.Equal("legacy stdout line\nlegacy stdout line\n", File.ReadAllText(Path.Combine(logs, "a_stdout.txt")));
        Assert.Equal("legacy stderr line\nlegacy stderr line\n", File.ReadAllText(Path.Combine(logs, "a_stderr.txt")));
        Assert.Equal("legacy stdout line\nlegacy stdout line\n", File.ReadAllText(Path.Combine(logs, "b_stdout.txt")));
        Assert.Equal("legacy stderr line\nlegacy stderr line\n", File.ReadAllText(Path.Combine(logs, "b_stderr.txt")));
        Assert.Equal(2, console.Lines.Count(l => l.Contains("[a stdout] legacy stdout line")));
        Assert.DoesNotContain(console.Lines, l => l.Contains("[b "));

        var unknown = await Assert.ThrowsAsync<SpindleStartupException>(() => app.StartAsync(runtime, configure: o => o with { FollowComponents = ["c"] }));
        Assert.Equal("--follow 'c': the application runs no such component (it runs: a, b)", unknown.Message);
    }
}
