using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;

namespace Spindle.EndToEnd.Tests.Legacy;

/// <summary>
/// Core modules of Spin's first SDK generations, served as Spin serves them: built by the fixture script from C
/// (tests/fixtures/legacy: the same application over the wit-bindgen 0.2 ABI of Spin ≤ 1.3, as a reactor and as a
/// command, and over the Spin 1.4/1.5 ABI) and written in WAT, each run by a real host from a manifest.
/// </summary>
public sealed class LegacyModuleTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    /// <summary>The route prefix of each generation's module in <see cref="Manifest"/>.</summary>
    public static TheoryData<string> Generations => new() { "v1", "v1c", "v2" };

    /// <summary>
    /// v1 (Spin ≤ 1.3, reactor), v1c (the same, a command), v2 (Spin 1.4/1.5), each allowed to reach
    /// <paramref name="upstreamPort"/>, its own app (self) and the private component <c>backend</c> (a v2 module), and
    /// to open the default key-value store and SQLite database; <c>noconfig</c>, a v2 module allowed nothing;
    /// <c>current</c> (at <c>/...</c>), a JavaScript component on the current key-value interfaces.
    /// </summary>
    private static string Manifest(int upstreamPort)
    {
        var manifest = new StringBuilder("""
            spin_manifest_version = 2
            [application]
            name = "legacy"
            [variables]
            msg = { default = "from the manifest" }
            [[trigger.http]]
            route = { private = true }
            component = "backend"
            [component.backend]
            source = "{fixture:legacy/spin-v2.wasm}"

            """);
        foreach (var (id, file) in new[] { ("v1", "spin-v1"), ("v1c", "spin-v1-command"), ("v2", "spin-v2") })
            manifest.Append($$$"""
                [[trigger.http]]
                route = "/{{{id}}}/..."
                component = "{{{id}}}"
                [component.{{{id}}}]
                source = "{fixture:legacy/{{{file}}}.wasm}"
                environment = { GREETING = "hello {{{id}}}" }
                files = [{ source = "data", destination = "/data" }]
                allowed_outbound_hosts = ["http://127.0.0.1:{{{upstreamPort}}}", "http://self", "http://backend.spin.internal"]
                key_value_stores = ["default"]
                sqlite_databases = ["default"]
                [component.{{{id}}}.variables]
                message = "{{{id}}} says {{ msg }}"

                """);
        manifest.Append("""
            [[trigger.http]]
            route = "/noconfig/..."
            component = "noconfig"
            [component.noconfig]
            source = "{fixture:legacy/spin-v2.wasm}"
            [[trigger.http]]
            route = "/..."
            component = "current"
            [component.current]
            source = "{fixture:js-spin/kv.wasm}"
            key_value_stores = ["default"]
            [[trigger.http]]
            route = "/wat1/..."
            component = "wat1"
            [component.wat1]
            source = "{fixture:legacy/spin-v1-hello.wasm}"
            [[trigger.http]]
            route = "/wat2/..."
            component = "wat2"
            [component.wat2]
            source = "{fixture:legacy/spin-v2-hello.wasm}"
            """);
        return manifest.ToString();
    }

    private sealed class Served : IAsyncDisposable
    {
        public required TestApp App { get; init; }
        public required SpindleHost Host { get; init; }
        public required HttpClient Client { get; init; }
        public required CapturedLog Log { get; init; }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Host.DisposeAsync();
            App.Dispose();
        }
    }

    private async Task<Served> StartAsync(int upstreamPort = 9, Func<SpindleHostOptions, SpindleHostOptions>? configure = null)
    {
        var app = new TestApp(Manifest(upstreamPort));
        app.WriteFile("data/hello.txt", "a mounted file\n");
        var log = new CapturedLog();
        var host = await app.StartAsync(runtime, log, configure);
        return new Served { App = app, Host = host, Client = TestApp.Client(host.BaseUrl), Log = log };
    }

    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> GetAsync(HttpClient client, string path, string? url = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (url is not null) request.Headers.Add("x-url", url);
        var response = await client.SendAsync(request, Ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Ct), response);
    }

    [Fact]
    public async Task Modules_of_both_generations_in_C_and_in_WAT_answer()
    {
        await using var s = await StartAsync();
        foreach (var (path, body) in new[]
        {
            ("/v1/hello", "Hello from a Spin 1.x module\n"), ("/v1c/hello", "Hello from a Spin 1.x module\n"),
            ("/v2/hello", "Hello from a Spin 1.4 module\n"), ("/wat1/x", "Hello from WAT 1.x\n"), ("/wat2/x", "Hello from WAT\n"),
        })
        {
            var (status, text, response) = await GetAsync(s.Client, path);
            Assert.True(status == HttpStatusCode.OK, $"{path}: {status} {s.Log.Text}");
            Assert.Equal(body, text);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.ToString());
            Assert.Equal(Encoding.UTF8.GetByteCount(body), response.Content.Headers.ContentLength);
        }
    }

    [Theory]
    [MemberData(nameof(Generations))]
    public async Task The_request_record_carries_method_uri_every_header_and_the_spin_headers_and_the_whole_body(string gen)
    {
        await using var s = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/{gen}/echo?q=1&r=%20") { Content = new ByteArrayContent("the whole body"u8.ToArray()) };
        request.Headers.Add("X-Custom", "custom value");
        using var response = await s.Client.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text + s.Log.Text);
        var lines = text.Split('\n');
        Assert.Equal("method=2", lines[0]); // put
        Assert.Equal($"uri=/{gen}/echo?q=1&r=%20", lines[1]); // path and query as sent
        Assert.Equal("params=0", lines[2]);
        Assert.Contains("x-custom: custom value", lines); // names in lower case
        Assert.Contains("content-length: 14", lines);
        Assert.Contains("spin-path-info: /echo", lines);
        Assert.Contains($"spin-matched-route: /{gen}/...", lines);
        Assert.Contains($"spin-component-route: /{gen}", lines);
        Assert.Contains($"spin-full-url: {s.Host.BaseUrl.ToString().TrimEnd('/')}/{gen}/echo?q=1&r=%20", lines);
        Assert.Contains(lines, l => l.StartsWith("spin-client-addr: 127.0.0.1:", StringComparison.Ordinal));
        // The client's headers come first, then Spin's.
        Assert.True(Array.FindIndex(lines, l => l.StartsWith("x-custom")) < Array.FindIndex(lines, l => l.StartsWith("spin-")));
        Assert.EndsWith("body=the whole body", text);
    }

    [Fact]
    public async Task A_method_outside_the_enum_answers_405_and_a_large_body_arrives_whole()
    {
        await using var s = await StartAsync();
        using (var trace = await s.Client.SendAsync(new HttpRequestMessage(new HttpMethod("PROPFIND"), "/v2/echo"), Ct))
            Assert.Equal(HttpStatusCode.MethodNotAllowed, trace.StatusCode);
        var big = new byte[3 << 20];
        Random.Shared.NextBytes(big);
        Array.Fill(big, (byte)'x', 0, 16);
        using var post = await s.Client.PostAsync("/v1/echo", new ByteArrayContent(big), Ct);
        var echoed = await post.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        var marker = Encoding.ASCII.GetBytes("body=");
        var at = echoed.AsSpan().IndexOf(marker);
        Assert.True(echoed.AsSpan(at + marker.Length).SequenceEqual(big), "the body did not arrive whole");
    }

    [Theory]
    [MemberData(nameof(Generations))]
    public async Task A_custom_status_and_repeated_headers_come_back_the_last_value_winning(string gen)
    {
        await using var s = await StartAsync();
        var (status, body, response) = await GetAsync(s.Client, $"/{gen}/status");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("", body);
        Assert.Equal(["second"], response.Headers.GetValues("x-dup"));
        Assert.Equal(["kept"], response.Headers.GetValues("x-other"));
    }

    [Theory]
    [MemberData(nameof(Generations))]
    public async Task Get_config_reads_the_components_variable_through_the_providers(string gen)
    {
        await using var s = await StartAsync(configure: o => o with { Variables = [new("msg", "from the flag")] });
        var (status, body, _) = await GetAsync(s.Client, $"/{gen}/config");
        Assert.True(status == HttpStatusCode.OK, body + s.Log.Text);
        Assert.Equal($"{gen} says from the flag", body);
        // A component without the variable: Spin's legacy mapping of "undefined" is the provider case (0).
        var (missing, error, _) = await GetAsync(s.Client, "/noconfig/config");
        Assert.Equal(HttpStatusCode.InternalServerError, missing);
        Assert.StartsWith("config-error=0:", error);
    }

    [Theory]
    [MemberData(nameof(Generations))]
    public async Task Environment_files_and_stdio_come_from_the_manifest_and_go_to_the_log(string gen)
    {
        await using var s = await StartAsync();
        Assert.Equal($"hello {gen}\n", (await GetAsync(s.Client, $"/{gen}/env")).Body);
        Assert.Contains(s.Log.Lines, l => l.Contains($"[{gen} stdout] legacy stdout line"));
        Assert.Contains(s.Log.Lines, l => l.Contains($"[{gen} stderr] legacy stderr line"));
        var (status, file, _) = await GetAsync(s.Client, $"/{gen}/file");
        Assert.True(status == HttpStatusCode.OK, file);
        Assert.Equal("a mounted file\n", file);
    }

    [Theory]
    [MemberData(nameof(Generations))]
    public async Task Send_request_goes_through_the_allow_list_to_a_loopback_server(string gen)
    {
        await using var upstream = await Upstream.StartAsync(async http =>
        {
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync(http.RequestAborted);
            await http.Response.WriteAsync($"{http.Request.Method} {http.Request.Path} from={http.Request.Headers["x-from-guest"]} body={body}", http.RequestAborted);
        });
        await using var s = await StartAsync(upstream.Port);

        // Denied: another host (the name localhost is not in the list), another port. Nothing reaches a socket.
        Assert.Equal("error=1\n", (await GetAsync(s.Client, $"/{gen}/send", $"http://localhost:{upstream.Port}/x")).Body);
        Assert.Equal("error=1\n", (await GetAsync(s.Client, $"/{gen}/send", $"http://127.0.0.1:{upstream.Port + 1}/x")).Body);
        Assert.Equal(0, upstream.Connections);
        Assert.Equal(2, s.Log.Lines.Count(l => l.Contains("may not send a request to")));
        // A URL that is not one: invalid-url.
        Assert.Equal("error=2\n", (await GetAsync(s.Client, $"/{gen}/send", "not a url")).Body);

        var (status, body, _) = await GetAsync(s.Client, $"/{gen}/send", $"http://127.0.0.1:{upstream.Port}/path?q");
        Assert.True(status == HttpStatusCode.OK, body + s.Log.Text);
        Assert.Equal("status=200\nGET /path from=legacy body=", body);
        using var post = new HttpRequestMessage(HttpMethod.Post, $"/{gen}/send") { Content = new StringContent("posted") };
        post.Headers.Add("x-url", $"http://127.0.0.1:{upstream.Port}/in");
        using var posted = await s.Client.SendAsync(post, Ct);
        Assert.Equal("status=200\nPOST /in from=legacy body=posted", await posted.Content.ReadAsStringAsync(Ct));
        Assert.Equal(2, upstream.Requests);
    }

    [Fact]
    public async Task A_response_over_128_MiB_is_a_runtime_error_not_a_truncated_body()
    {
        var chunk = new byte[1 << 20];
        await using var upstream = await Upstream.StartAsync(async http =>
        {
            var mib = int.Parse(http.Request.Query["mib"]!, System.Globalization.CultureInfo.InvariantCulture);
            try
            {
                for (var i = 0; i < mib; i++) await http.Response.Body.WriteAsync(chunk, http.RequestAborted);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException) { } // the host stopped reading
        });
        await using var s = await StartAsync(upstream.Port);
        var (_, small, _) = await GetAsync(s.Client, "/v2/send", $"http://127.0.0.1:{upstream.Port}/?mib=2");
        Assert.StartsWith("status=200\n", small);
        Assert.Equal("status=200\n".Length + (2 << 20), small.Length);
        Assert.Equal("error=4\n", (await GetAsync(s.Client, "/v2/send", $"http://127.0.0.1:{upstream.Port}/?mib=129")).Body);
    }

    [Theory]
    [MemberData(nameof(Generations))]
    public async Task Send_request_reaches_a_private_component_in_memory_and_the_apps_own_routes(string gen)
    {
        await using var s = await StartAsync();
        var (status, chained, _) = await GetAsync(s.Client, $"/{gen}/send", "http://backend.spin.internal/echo?via=chain");
        Assert.True(status == HttpStatusCode.OK, chained + s.Log.Text);
        Assert.StartsWith("status=200\nmethod=0\nuri=/echo?via=chain\n", chained);
        Assert.Contains("spin-client-addr: 0.0.0.0:0\n", chained);
        Assert.Contains("x-from-guest: legacy\n", chained);

        var (_, self, _) = await GetAsync(s.Client, $"/{gen}/send", "/wat2/anything");
        Assert.Equal("status=200\nHello from WAT\n", self);
    }

    [Theory]
    [MemberData(nameof(Generations))]
    public async Task Key_value_and_SQLite_reach_the_same_stores_as_the_current_interfaces(string gen)
    {
        await using var s = await StartAsync();
        // open, get (a missing key is no-such-key), set, exists, get-keys, close; open of an unlisted store: access-denied (2).
        Assert.Equal("count=1 exists=1 keys=1 nope=2\n", (await GetAsync(s.Client, $"/{gen}/kv")).Body);
        Assert.Equal("count=2 exists=1 keys=1 nope=2\n", (await GetAsync(s.Client, $"/{gen}/kv")).Body);
        // The JavaScript component, on fermyon:spin/key-value@2.0.0, sees what the module wrote.
        var read = await State.KeyValueScript.OkAsync(s.Client, "spin", "default", State.KeyValueScript.Get("count"));
        Assert.Equal("2"u8.ToArray(), State.KeyValueScript.Bytes(read[0]));

        // create, insert with parameters, select, a bad statement (io, 4), an unlisted database (access-denied, 1).
        var (status, sql, _) = await GetAsync(s.Client, $"/{gen}/sql");
        Assert.True(status == HttpStatusCode.OK, sql + s.Log.Text);
        Assert.Equal("columns=n,s rows=1 first=42:forty-two bad=4 nope=1\n", sql);
        Assert.True(File.Exists(Path.Combine(s.App.Dir, ".spin", "sqlite_db.db")));

        // A component that lists neither is denied both.
        Assert.Equal((HttpStatusCode.InternalServerError, "kv-open-error=2\n"), Pick(await GetAsync(s.Client, "/noconfig/kv")));
        Assert.Equal((HttpStatusCode.InternalServerError, "sql-open-error=1\n"), Pick(await GetAsync(s.Client, "/noconfig/sql")));

        static (HttpStatusCode, string) Pick((HttpStatusCode Status, string Body, HttpResponseMessage _) r) => (r.Status, r.Body);
    }

    [Theory]
    [MemberData(nameof(Generations))]
    public async Task A_trap_a_bad_status_and_a_bad_header_answer_500_and_the_server_keeps_serving(string gen)
    {
        await using var s = await StartAsync();
        foreach (var (path, reason) in new[] { ("trap", "unreachable"), ("bad-status", "status 700 is outside 100..=600"), ("bad-header", "invalid response header 'bad header'") })
        {
            var (status, body, _) = await GetAsync(s.Client, $"/{gen}/{path}");
            Assert.Equal(HttpStatusCode.InternalServerError, status);
            Assert.Equal("", body);
            Assert.Contains(s.Log.Lines, l => l.Contains($"Component {gen} failed") && l.Contains(reason));
        }
        Assert.Equal("Hello from a Spin 1.4 module\n", (await GetAsync(s.Client, "/v2/hello")).Body);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(s.Client, $"/{gen}/no-such-route")).Status);
    }

    [Fact]
    public async Task A_component_exporting_fermyon_spin_inbound_http_is_served_by_the_same_executor()
    {
        // The WAT generation-2 module wrapped as a component, as spin-componentize would: the same canonical ABI,
        // lifted by the component itself.
        var module = File.ReadAllText(Path.Combine(Spindle.Testing.Paths.FixtureSources, "legacy", "spin-v2-hello.wat"));
        var component = $$"""
            (component
              (core module $m {{module[(module.IndexOf("(module", StringComparison.Ordinal) + "(module".Length)..]}}
              (core instance $i (instantiate $m))
              (type $headers (list (tuple string string)))
              (type $method (enum "get" "post" "put" "delete" "patch" "head" "options"))
              (type $request (record (field "method" $method) (field "uri" string) (field "headers" $headers) (field "params" $headers)
                                     (field "body" (option (list u8)))))
              (type $response (record (field "status" u16) (field "headers" (option $headers)) (field "body" (option (list u8)))))
              (type $handle-type (func (param "req" $request) (result $response)))
              (func $handle (type $handle-type)
                (canon lift (core func $i "fermyon:spin/inbound-http#handle-request") (memory (core memory $i "memory"))
                  (realloc (core func $i "cabi_realloc")) (post-return (core func $i "cabi_post_fermyon:spin/inbound-http#handle-request"))))
              (instance $inbound (export "handle-request" (func $handle)))
              (export "fermyon:spin/inbound-http" (instance $inbound)))
            """;
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "component"
            [[trigger.http]]
            route = "/..."
            component = "inbound"
            [component.inbound]
            source = "inbound.wasm"
            """);
        app.WriteFile("inbound.wasm", Spindle.Wasmtime.Wat.ToWasm(component));
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        Assert.Equal("Hello from WAT\n", await client.GetStringAsync("/anything", Ct));
    }

    [Fact]
    public async Task A_module_importing_what_Spindle_does_not_serve_is_refused_at_load_naming_the_import()
    {
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "redis"
            [[trigger.http]]
            route = "/..."
            component = "redis"
            [component.redis]
            source = "redis.wasm"
            """);
        app.WriteFile("redis.wasm", Spindle.Wasmtime.Wat.ToWasm("""
            (module
              (import "outbound-redis" "publish" (func (param i32 i32 i32 i32 i32 i32)))
              (memory (export "memory") 1)
              (func (export "handle-http-request") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) i32.const 0)
              (func (export "canonical_abi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
              (func (export "canonical_abi_free") (param i32 i32 i32)))
            """));
        var e = await Assert.ThrowsAsync<SpindleStartupException>(() => app.StartAsync(runtime));
        Assert.Contains("component 'redis'", e.Message);
        Assert.Contains("'outbound-redis' 'publish'", e.Message);

        // A core module of neither generation says what it lacks.
        app.WriteFile("redis.wasm", Spindle.Wasmtime.Wat.ToWasm("""(module (func (export "_start")))"""));
        var neither = await Assert.ThrowsAsync<SpindleStartupException>(() => app.StartAsync(runtime));
        Assert.Contains("exports neither 'handle-http-request' (Spin ≤ 1.3) nor 'fermyon:spin/inbound-http#handle-request'", neither.Message);
    }
}
