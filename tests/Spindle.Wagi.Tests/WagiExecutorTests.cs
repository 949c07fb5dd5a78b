using System.Net;
using System.Text;
using Spindle.Trigger.Http.Executors.Wagi;
using Spindle.Wasi.Preview1;

namespace Spindle.Wagi.Tests;

/// <summary>
/// Real Wagi modules (tests/fixtures/wagi/*.c, built by scripts/build-fixtures.sh) behind real Kestrel.
/// What this does not prove: routing (the router's own tests) and the spin-* header computation.
/// </summary>
public sealed class WagiExecutorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;


    [Fact]
    public async Task Environment_and_argv_follow_the_cgi_contract()
    {
        var options = WagiTestServer.Options("env");
        options = new WagiOptions
        {
            Engine = options.Engine, ComponentId = options.ComponentId, ModulePath = options.ModulePath,
            Environment = [new("FROM_MANIFEST", "yes"), new("PATH_INFO", "manifest-first")],
        };
        await using var server = await WagiTestServer.StartAsync(options, http => new("wagi-test", "/hello/...", "/hello/...", "/hello",
            WagiCgiEnvironment.RawPath(http)["/hello".Length..], "/", []));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hello/a%20b/c?x=1&y=2")
        {
            Content = new StringContent("12345", Encoding.UTF8, "text/plain"),
        };
        request.Headers.Add("User-Agent", "curl/8");
        request.Headers.Add("Authorization", "Bearer secret");
        using var response = await server.Client.SendAsync(request, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var env = EnvOutput.Parse(body, out var argv);
        string One(string name) => Assert.Single(env[name]);

        Assert.Equal(["/hello/a%20b/c", "x=1", "y=2"], argv);
        Assert.Equal("yes", One("FROM_MANIFEST"));
        Assert.Equal(["manifest-first", "/a%20b/c"], env["PATH_INFO"]); // manifest value first, then Spin's
        Assert.Equal("", One("AUTH_TYPE"));
        Assert.Equal("5", One("CONTENT_LENGTH"));
        Assert.Equal("", One("CONTENT_TYPE")); // Spin's bug, reproduced
        Assert.Equal("CGI/1.1", One("GATEWAY_INTERFACE"));
        Assert.Equal("WAGI/1", One("SERVER_SOFTWARE"));
        Assert.Equal("HTTP/1.1", One("SERVER_PROTOCOL"));
        Assert.Equal("POST", One("REQUEST_METHOD"));
        Assert.Equal("x=1&y=2", One("QUERY_STRING"));
        Assert.Equal("127.0.0.1", One("REMOTE_ADDR"));
        Assert.Equal("127.0.0.1", One("REMOTE_HOST"));
        Assert.Equal("", One("REMOTE_USER"));
        Assert.Equal("127.0.0.1", One("SERVER_NAME"));
        Assert.Equal(server.Client.BaseAddress!.Port.ToString(), One("SERVER_PORT"));
        Assert.Equal("/hello", One("SCRIPT_NAME"));
        Assert.Equal("/a%20b/c", One("X_RAW_PATH_INFO"));
        Assert.Equal("/a b/c", One("PATH_TRANSLATED"));
        Assert.Equal($"{server.Client.BaseAddress.ToString().TrimEnd('/')}/hello/a%20b/c?x=1&y=2", One("X_FULL_URL"));
        Assert.Equal("/hello/...", One("X_MATCHED_ROUTE"));
        Assert.Equal("/hello", One("X_COMPONENT_ROUTE"));
        Assert.Equal("/hello/...", One("X_RAW_COMPONENT_ROUTE"));
        Assert.Equal("/", One("X_BASE_PATH"));
        Assert.StartsWith("127.0.0.1:", One("X_CLIENT_ADDR"));
        Assert.Equal("curl/8", One("HTTP_USER_AGENT"));
        Assert.Equal("text/plain; charset=utf-8", One("HTTP_CONTENT_TYPE"));
        Assert.False(env.ContainsKey("HTTP_AUTHORIZATION"));
        Assert.Contains(server.Logs.Lines, l => l.Contains("[wagi-test stderr] env: starting")); // stderr → ILogger
        Assert.True(env.ContainsKey("HTTP_HOST"));

        // Two header lines with the same name (HttpClient would fold them): the last value wins. HTTP/1.0: no chunking.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Client.BaseAddress!.Port, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync("GET /hello/x HTTP/1.0\r\nHost: example.com:8080\r\nX-Two: a\r\nX-Two: b\r\nConnection: close\r\n\r\n"u8.ToArray(), Ct);
        var raw = await new StreamReader(stream).ReadToEndAsync(Ct);
        var rawEnv = EnvOutput.Parse(raw, out _);
        Assert.Equal(["b"], rawEnv["HTTP_X_TWO"]);
        Assert.Equal(["example.com"], rawEnv["SERVER_NAME"]);
        Assert.Equal(["8080"], rawEnv["SERVER_PORT"]);
        Assert.Equal(["0"], rawEnv["CONTENT_LENGTH"]);
        Assert.Equal(["HTTP/1.0"], rawEnv["SERVER_PROTOCOL"]);
    }

    [Fact]
    public async Task Empty_query_gives_a_trailing_empty_argument_and_custom_template_expands()
    {
        var baseOptions = WagiTestServer.Options("env");
        await using var server = await WagiTestServer.StartAsync(new WagiOptions
        {
            Engine = baseOptions.Engine, ComponentId = "wagi-test", ModulePath = baseOptions.ModulePath,
            Argv = "prog --path ${SCRIPT_NAME} ${ARGS}",
        });
        var body = await server.Client.GetStringAsync("/x/y?a=1&b", Ct);
        EnvOutput.Parse(body, out var argv);
        Assert.Equal(["prog", "--path", "/x/y", "a=1", "b"], argv);
        await using var defaults = await WagiTestServer.StartAsync(WagiTestServer.Options("env"));
        EnvOutput.Parse(await defaults.Client.GetStringAsync("/assert-args", Ct), out argv);
        Assert.Equal(["/assert-args", ""], argv);
    }

    [Fact]
    public async Task Echo_returns_the_body_including_3_mb()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("echo"));
        using (var small = await server.Client.PostAsync("/", new StringContent("hello wagi"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, small.StatusCode);
            Assert.Equal("hello wagi", await small.Content.ReadAsStringAsync(Ct));
        }
        var big = new byte[3 * 1024 * 1024];
        new Random(42).NextBytes(big);
        using var response = await server.Client.PostAsync("/", new ByteArrayContent(big), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(big, await response.Content.ReadAsByteArrayAsync(Ct));

        // Chunked upload (no Content-Length): read fully first, CONTENT_LENGTH still right.
        var chunked = new StreamContent(new MemoryStream(big, 0, 100_000));
        using var chunkedRequest = new HttpRequestMessage(HttpMethod.Post, "/") { Content = chunked };
        chunkedRequest.Headers.TransferEncodingChunked = true;
        using var chunkedResponse = await server.Client.SendAsync(chunkedRequest, Ct);
        Assert.Equal(big.AsSpan(0, 100_000).ToArray(), await chunkedResponse.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task A_body_the_guest_does_not_read_leaves_the_connection_usable()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("env"));
        for (var i = 0; i < 3; i++)
        {
            using var response = await server.Client.PostAsync("/", new ByteArrayContent(new byte[1024 * 1024]), Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("ENV CONTENT_LENGTH=1048576", await response.Content.ReadAsStringAsync(Ct));
        }
    }

    [Fact]
    public async Task A_timeout_after_the_headers_aborts_the_response()
    {
        var o = WagiTestServer.Options("echo");
        await using var server = await WagiTestServer.StartAsync(new WagiOptions
        {
            Engine = o.Engine, ComponentId = "wagi-test", ModulePath = o.ModulePath, RequestTimeout = TimeSpan.FromMilliseconds(300),
        });
        // echo sends its headers at once, then waits for a body that never comes.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new NeverEndingContent() };
        var failed = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var response = await server.Client.SendAsync(request, Ct);
            await response.Content.ReadAsByteArrayAsync(Ct);
        });
        Assert.True(failed is HttpRequestException or IOException, failed.ToString());
        Assert.Contains(server.Logs.Lines, l => l.Contains("aborting the response"));
        using var next = await server.Client.PostAsync("/", new StringContent("still here"), Ct);
        Assert.Equal("still here", await next.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>Declares 10 bytes, sends 2, then never sends more.</summary>
    private sealed class NeverEndingContent : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync("ab"u8.ToArray());
            await stream.FlushAsync();
            // Long enough to outlive the 300 ms request timeout; finite so the client's send always ends.
            await Task.Delay(3000, TestContext.Current.CancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 10;
            return true;
        }
    }

    [Fact]
    public async Task Head_requests_get_the_headers_without_a_body()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("notfound"));
        using var response = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"), Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("yes", Assert.Single(response.Headers.GetValues("x-custom")));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        using var get = await server.Client.GetAsync("/", Ct); // the connection is still fine
        Assert.Equal("no such thing\n", await get.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Location_only_gives_302()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("redirect"));
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/elsewhere", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Status_header_sets_a_custom_status_and_other_headers_pass()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("notfound"));
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("yes", Assert.Single(response.Headers.GetValues("x-custom")));
        Assert.Equal("no such thing\n", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Mounted_files_are_readable_and_the_mount_cannot_be_escaped()
    {
        var root = Directory.CreateTempSubdirectory("spindle-wagi-").FullName;
        try
        {
            var mount = Directory.CreateDirectory(Path.Combine(root, "static")).FullName;
            File.WriteAllText(Path.Combine(mount, "hello.txt"), "hello from a mounted file\n");
            File.WriteAllText(Path.Combine(root, "secret.txt"), "SECRET");
            var o = WagiTestServer.Options("readfile");
            await using var server = await WagiTestServer.StartAsync(new WagiOptions
            {
                Engine = o.Engine, ComponentId = "wagi-test", ModulePath = o.ModulePath,
                Files = [new WasiFileMount(mount, "/data")],
            });
            using (var ok = await server.Client.GetAsync("/?/data/hello.txt", Ct))
            {
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
                Assert.Equal("hello from a mounted file\n", await ok.Content.ReadAsStringAsync(Ct));
            }
            using var escape = await server.Client.GetAsync("/?/data/../secret.txt", Ct);
            var text = await escape.Content.ReadAsStringAsync(Ct);
            Assert.Equal(HttpStatusCode.NotFound, escape.StatusCode);
            Assert.DoesNotContain("SECRET", text);
            using var missing = await server.Client.GetAsync("/?/data/nope.txt", Ct);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains("No such file", await missing.Content.ReadAsStringAsync(Ct));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Exit_code_1_gives_500_with_empty_body()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("exit1"));
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync(Ct));
        Assert.Contains(server.Logs.Lines, l => l.Contains("exited with code 1"));
    }

    [Fact]
    public async Task Trap_gives_500_and_the_next_request_still_works()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("trap"));
        for (var i = 0; i < 3; i++)
        {
            using var response = await server.Client.GetAsync("/", Ct);
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            Assert.Equal("", await response.Content.ReadAsStringAsync(Ct));
        }
        Assert.Contains(server.Logs.Lines, l => l.Contains("trapped"));
        await using var other = await WagiTestServer.StartAsync(WagiTestServer.Options("notfound"));
        using var after = await other.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
    }

    [Fact]
    public async Task A_named_entrypoint_is_called_and_bad_ones_fail_at_load()
    {
        var o = WagiTestServer.Options("entry");
        await using (var server = await WagiTestServer.StartAsync(new WagiOptions { Engine = o.Engine, ComponentId = "wagi-test", ModulePath = o.ModulePath, Entrypoint = "handle" }))
            Assert.Equal("from handle\n", await server.Client.GetStringAsync("/", Ct));
        await using (var server = await WagiTestServer.StartAsync(o))
            Assert.Equal("from _start\n", await server.Client.GetStringAsync("/", Ct));

        var missing = Assert.Throws<WagiLoadException>(() => WagiExecutor.Create(new WagiOptions { Engine = o.Engine, ComponentId = "c1", ModulePath = o.ModulePath, Entrypoint = "nope" }));
        Assert.Contains("'nope'", missing.Message);
        Assert.Contains("c1", missing.Message);
        Assert.Contains("handle", missing.Message); // lists what is there
        var notFunc = Assert.Throws<WagiLoadException>(() => WagiExecutor.Create(new WagiOptions { Engine = o.Engine, ComponentId = "c1", ModulePath = o.ModulePath, Entrypoint = "memory" }));
        Assert.Contains("not a function", notFunc.Message);
    }

    [Fact]
    public void Components_and_non_wasm_are_refused_with_a_clear_message()
    {
        var component = new byte[] { 0, (byte)'a', (byte)'s', (byte)'m', 0x0d, 0, 1, 0 };
        var e = Assert.Throws<WagiLoadException>(() => WagiExecutor.Create(new WagiOptions { Engine = WagiTestServer.Engine, ComponentId = "comp", ModuleBytes = component }));
        Assert.Contains("component", e.Message);
        Assert.Contains("WagiComponentExecutor", e.Message);
        var junk = Assert.Throws<WagiLoadException>(() => WagiExecutor.Create(new WagiOptions { Engine = WagiTestServer.Engine, ComponentId = "junk", ModuleBytes = "hello world"u8.ToArray() }));
        Assert.Contains("not a WebAssembly binary", junk.Message);
    }

    [Fact]
    public async Task A_guest_running_past_the_timeout_gets_500_and_the_server_keeps_serving()
    {
        var o = WagiTestServer.Options("spin");
        await using var server = await WagiTestServer.StartAsync(new WagiOptions
        {
            Engine = o.Engine, ComponentId = "wagi-test", ModulePath = o.ModulePath, RequestTimeout = TimeSpan.FromMilliseconds(200),
        });
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync(Ct));
        Assert.InRange(started.ElapsedMilliseconds, 150, 5000);
        using var again = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, again.StatusCode);
    }

    [Fact]
    public async Task Sleep_uses_async_poll_oneoff()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("sleep"));
        var text = await server.Client.GetStringAsync("/", Ct);
        Assert.StartsWith("slept ", text);
        Assert.InRange(int.Parse(text.Split('\n')[0]["slept ".Length..]), 45, 2000);
    }
}
