using System.Net;
using System.Net.Sockets;
using System.Text;
using Spindle.Hosting;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Server;

/// <summary>End to end on a real Kestrel listener on 127.0.0.1 (port 0): what a client sees.</summary>
public sealed class SpindleHostTests
{
    private const string ShopManifest = """
        spin_manifest_version = 2
        [application]
        name = "shop"
        version = "2.0.0"
        [[trigger.http]]
        route = "/users/..."
        component = "users"
        [[trigger.http]]
        route = "/users/admin"
        static_response = { body = "admin" }
        [[trigger.http]]
        route = "/old"
        static_response = { status_code = 302, headers = { location = "/users/bob" } }
        [[trigger.http]]
        route = "/.well-known/spin"
        static_response = { body = "routed normally" }
        [[trigger.http]]
        route = { private = true }
        component = "internal"
        [component.users]
        source = "users.wasm"
        [component.internal]
        source = "internal.wasm"
        """;

    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reserved_routes_answer_before_routing()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);

        var health = await h.Client.GetAsync("/.well-known/spin/health", Ct);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("OK", await health.Content.ReadAsStringAsync(Ct));
        Assert.Null(health.Content.Headers.ContentType);

        var info = await h.Client.PostAsync("/.well-known/spin/info", null, Ct);
        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
        Assert.Equal("application/json", info.Content.Headers.ContentType?.MediaType);
        Assert.Equal("{\n  \"name\": \"shop\",\n  \"version\": \"2.0.0\"\n}", (await info.Content.ReadAsStringAsync(Ct)).ReplaceLineEndings("\n"));

        var other = await h.Client.GetAsync("/.well-known/spin/other", Ct);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal("", await other.Content.ReadAsStringAsync(Ct));

        Assert.Equal("routed normally", await h.Client.GetStringAsync("/.well-known/spin", Ct));
    }

    [Fact]
    public async Task No_match_is_404_with_an_empty_body_and_private_routes_are_unreachable()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);
        foreach (var path in new[] { "/", "/internal", "/private", "/usersX" })
        {
            var r = await h.Client.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            Assert.Equal("", await r.Content.ReadAsStringAsync(Ct));
        }
        // The private component still has its executor: service chaining reaches it.
        Assert.NotNull(h.Host.Application.GetExecutor("internal"));
        Assert.Contains("internal", h.Echo.Created);
    }

    [Fact]
    public async Task Precedence_static_responses_and_spin_headers_on_the_wire()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);

        Assert.Equal("admin", await h.Client.GetStringAsync("/users/admin", Ct));
        var redirect = await h.Client.GetAsync("/old", Ct);
        Assert.Equal(HttpStatusCode.Found, redirect.StatusCode);
        Assert.Equal("/users/bob", redirect.Headers.Location?.OriginalString);

        using var req = new HttpRequestMessage(HttpMethod.Get, "/users/42/cart/?theme=pink");
        req.Headers.Add("spin-path-info", "client-value");
        req.Headers.Host = "shop.example:8080";
        var resp = await h.Client.SendAsync(req, Ct);
        var (component, headers) = EchoExecutorFactory.Parse(await resp.Content.ReadAsStringAsync(Ct));
        Assert.Equal("users", component);
        string One(string name) => Assert.Single(headers, x => x.Key == name).Value;
        Assert.Equal("http://shop.example:8080/users/42/cart/?theme=pink", One("spin-full-url"));
        Assert.Equal("/users/...", One("spin-matched-route"));
        Assert.Equal("/users", One("spin-component-route"));
        Assert.Equal("/users/...", One("spin-raw-component-route"));
        Assert.Equal("/", One("spin-base-path"));
        Assert.Matches(@"^127\.0\.0\.1:\d+$", One("spin-client-addr"));
        // The client's own spin-path-info comes first, Spin's is appended.
        Assert.Equal(["client-value", "/42/cart/"], headers.Where(x => x.Key == "spin-path-info").Select(x => x.Value));
    }

    [Fact]
    public async Task Header_hygiene_drops_connection_and_a_spin_internal_host()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);
        using var req = new HttpRequestMessage(HttpMethod.Get, "/users/1");
        req.Headers.Host = "users.spin.internal";
        req.Headers.Connection.Add("keep-alive");
        var (_, headers) = EchoExecutorFactory.Parse(await (await h.Client.SendAsync(req, Ct)).Content.ReadAsStringAsync(Ct));
        Assert.DoesNotContain(headers, x => x.Key is "host" or "connection");
        Assert.Contains(headers, x => x.Key == "spin-full-url" && x.Value == "http://localhost/users/1");
    }

    [Fact]
    public async Task Base_path_prefixes_every_route()
    {
        using var app = new TempApp("""
            spin_manifest_version = 2
            [application]
            name = "based"
            [application.trigger.http]
            base = "/shop"
            [[trigger.http]]
            route = "/cart/..."
            component = "cart"
            [component.cart]
            source = "cart.wasm"
            """, "cart.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);
        Assert.Equal(HttpStatusCode.NotFound, (await h.Client.GetAsync("/cart", Ct)).StatusCode);
        var (_, headers) = EchoExecutorFactory.Parse(await h.Client.GetStringAsync("/shop/cart/items/3", Ct));
        Assert.Contains(new KeyValuePair<string, string>("spin-base-path", "/shop"), headers);
        Assert.Contains(new KeyValuePair<string, string>("spin-matched-route", "/shop/cart/..."), headers);
        Assert.Contains(new KeyValuePair<string, string>("spin-path-info", "/items/3"), headers);
        Assert.Contains("cart: http://127.0.0.1:", h.Output.ToString());
        Assert.Contains("/shop/cart (wildcard)", h.Output.ToString());
    }

    [Fact]
    public async Task Startup_prints_routes_in_precedence_order()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);
        var root = h.Host.BaseUrl.GetLeftPart(UriPartial.Authority);
        var lines = h.Output.ToString().ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // routefinder order: more '.' first, then fewer segments, literal before wildcard at the first difference.
        Assert.Equal(
            [
                $"Serving {root}",
                "Available Routes:",
                $"  http-trigger4: {root}/.well-known/spin",
                $"  http-trigger3: {root}/old",
                $"  http-trigger2: {root}/users/admin",
                $"  users: {root}/users (wildcard)",
            ],
            lines);
    }

    [Fact]
    public async Task A_failing_component_gives_500_with_an_empty_body()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);
        var r = await h.Client.GetAsync("/users/throw", Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
        Assert.Equal("", await r.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Request_timeout_answers_500()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath, requestTimeout: TimeSpan.FromMilliseconds(200));
        // The echo executor ignores cancellation while waiting; the trigger still answers once it returns.
        var pending = h.Client.GetAsync("/users/wait", Ct);
        await h.Echo.Waiting.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await Task.Delay(400, Ct);
        h.Echo.Release.SetResult();
        var r = await pending;
        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
    }

    [Fact]
    public async Task Stopping_drains_in_flight_requests()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        var h = await RunningHost.StartAsync(app.ManifestPath);
        var pending = h.Client.GetAsync("/users/wait", Ct);
        await h.Echo.Waiting.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var stopping = h.Host.StopAsync(Ct);
        await Task.Delay(200, Ct);
        Assert.False(stopping.IsCompleted);
        h.Echo.Release.SetResult();
        var r = await pending;
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.StartsWith("component: users", await r.Content.ReadAsStringAsync(Ct));
        await stopping.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await h.DisposeAsync();
    }

    [Fact]
    public async Task Port_in_use_is_one_clear_line()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var first = await RunningHost.StartAsync(app.ManifestPath);
        var port = first.Host.BaseUrl.Port;
        var ex = await Assert.ThrowsAsync<SpindleStartupException>(() => SpindleHost.StartAsync(new SpindleHostOptions
        {
            ManifestPath = app.ManifestPath,
            ListenAddress = $"127.0.0.1:{port}",
            Executors = RunningHost.Registry(new EchoExecutorFactory()),
            Output = TextWriter.Null,
        }, Ct));
        Assert.Equal($"cannot listen on 127.0.0.1:{port}: address already in use (--find-free-port tries the next 9 ports)", ex.Message);
    }

    [Fact]
    public async Task Listens_on_IPv6_loopback()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var host = await SpindleHost.StartAsync(new SpindleHostOptions
        {
            ManifestPath = app.ManifestPath,
            ListenAddress = "[::1]:0",
            Executors = RunningHost.Registry(new EchoExecutorFactory()),
            Output = TextWriter.Null,
        }, Ct);
        Assert.Equal("[::1]", host.BaseUrl.Host);
        using var client = new HttpClient { BaseAddress = host.BaseUrl };
        var (_, headers) = EchoExecutorFactory.Parse(await client.GetStringAsync("/users/1", Ct));
        Assert.Matches(@"^\[::1\]:\d+$", Assert.Single(headers, x => x.Key == "spin-client-addr").Value);
    }

    [Fact]
    public async Task Serve_runs_one_component_on_every_path()
    {
        using var app = new TempApp("", "hello.wasm");
        var echo = new EchoExecutorFactory();
        await using var host = await SpindleHost.StartAsync(new SpindleHostOptions
        {
            ComponentPath = Path.Combine(app.Dir, "hello.wasm"),
            ListenAddress = "127.0.0.1:0",
            Executors = RunningHost.Registry(echo),
            Output = TextWriter.Null,
        }, Ct);
        using var client = new HttpClient { BaseAddress = host.BaseUrl };
        var (component, headers) = EchoExecutorFactory.Parse(await client.GetStringAsync("/any/path", Ct));
        Assert.Equal("hello", component);
        Assert.Contains(new KeyValuePair<string, string>("spin-matched-route", "/..."), headers);
        Assert.Contains(new KeyValuePair<string, string>("spin-path-info", "/any/path"), headers);
    }

    [Fact]
    public async Task Startup_errors_are_single_lines()
    {
        using var app = new TempApp("spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.c]\nsource = \"missing.wasm\"\n");
        var ex = await Assert.ThrowsAsync<SpindleStartupException>(() => SpindleHost.StartAsync(new SpindleHostOptions
        {
            ManifestPath = app.ManifestPath,
            ListenAddress = "127.0.0.1:0",
            Output = TextWriter.Null,
        }, Ct));
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Contains("component.c.source", ex.Message);
        Assert.Contains("missing.wasm", ex.Message);
    }

    [Fact]
    public async Task Utf8_header_values_reach_the_component()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, h.Host.BaseUrl.Port, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes("GET /users/1 HTTP/1.1\r\nHost: x\r\nX-Name: café\r\nConnection: close\r\n\r\n"), Ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync(Ct);
        Assert.StartsWith("HTTP/1.1 200", response);
        Assert.Contains("x-name: café", response);
    }

    [Fact]
    public async Task A_request_without_host_gets_no_response()
    {
        using var app = new TempApp(ShopManifest, "users.wasm", "internal.wasm");
        await using var h = await RunningHost.StartAsync(app.ManifestPath);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, h.Host.BaseUrl.Port, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /users/1 HTTP/1.0\r\n\r\n"), Ct);
        var buffer = new byte[1024];
        int n;
        try
        {
            n = await stream.ReadAsync(buffer, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        }
        catch (IOException)
        {
            n = 0; // reset instead of FIN: still no HTTP response at all
        }
        Assert.Equal(0, n);
    }
}
