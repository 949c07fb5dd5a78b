using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Spindle.Engine;
using Spindle.Hosting;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Executors.Wagi;

namespace Spindle.Wagi.Tests;

/// <summary>
/// Wagi over WASI 0.2 stdio: the C fixtures of the module tests, adapted into <c>wasi:cli/run</c> components with
/// jco's preview1 command adapter (scripts/build-fixtures.sh → artifacts/fixtures/wagi-cli), behind real Kestrel.
/// What this does not prove: that a component built by another toolchain (cargo-component, componentize-py) uses
/// stdio the same way; the adapter is the common path, the host side is the same for all.
/// </summary>
public sealed class WagiComponentTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;


    [Fact]
    public async Task Echo_component_returns_the_body_including_1_mb_and_chunked()
    {
        await using var server = await WagiComponentTestServer.StartAsync(["echo"]);
        using (var small = await server.Client.PostAsync("/echo", new StringContent("hello wagi component"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, small.StatusCode);
            Assert.Equal("application/octet-stream", small.Content.Headers.ContentType?.MediaType);
            Assert.Equal("hello wagi component", await small.Content.ReadAsStringAsync(Ct));
        }
        var big = new byte[1024 * 1024 + 17];
        new Random(7).NextBytes(big);
        using (var response = await server.Client.PostAsync("/echo", new ByteArrayContent(big), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(big, await response.Content.ReadAsByteArrayAsync(Ct));
        }

        // No Content-Length (chunked upload): the body is read first so CONTENT_LENGTH is known.
        using var chunkedRequest = new HttpRequestMessage(HttpMethod.Post, "/echo") { Content = new StreamContent(new MemoryStream(big, 0, 200_000)) };
        chunkedRequest.Headers.TransferEncodingChunked = true;
        using var chunked = await server.Client.SendAsync(chunkedRequest, Ct);
        Assert.Equal(HttpStatusCode.OK, chunked.StatusCode);
        Assert.Equal(big.AsSpan(0, 200_000).ToArray(), await chunked.Content.ReadAsByteArrayAsync(Ct));

        // An empty GET: stdin is closed at once.
        using var empty = await server.Client.GetAsync("/echo", Ct);
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        Assert.Empty(await empty.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Echo_component_answers_the_first_part_of_the_body_before_the_rest_is_sent()
    {
        await using var server = await WagiComponentTestServer.StartAsync(["echo"]);
        // Raw HTTP/1.1: HttpClient would not hand out the response before the request body is complete.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Client.BaseAddress!.Port, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nping1"u8.ToArray(), Ct);
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        async Task ReadUntil(string text)
        {
            var deadline = Stopwatch.StartNew();
            while (!seen.ToString().Contains(text, StringComparison.Ordinal))
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"'{text}' not seen; got: {seen}");
                var n = await stream.ReadAsync(buffer, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
                Assert.NotEqual(0, n);
                seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        await ReadUntil("ping1"); // headers and the first echoed part, while the body is still incomplete
        Assert.StartsWith("HTTP/1.1 200", seen.ToString());
        await stream.WriteAsync("ping2"u8.ToArray(), Ct);
        await ReadUntil("ping2");
        await ReadUntil("\r\n0\r\n\r\n"); // the last chunk: the guest finished
    }

    /// <summary>Request content that sends its bytes only when the test releases them.</summary>
    private sealed class GatedContent(long length, Task<byte[]> part) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(await part);
            await stream.FlushAsync();
        }

        protected override bool TryComputeLength(out long computed)
        {
            computed = length;
            return true;
        }
    }

    [Fact]
    public async Task Fifty_component_guests_waiting_for_body_bytes_hold_no_threads()
    {
        await using var server = await WagiComponentTestServer.StartAsync(["echo"]);
        await server.Client.PostAsync("/echo", new StringContent("warm"), Ct); // JIT and pool warm-up
        var release = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var threadsBefore = Process.GetCurrentProcess().Threads.Count;
        var requests = Enumerable.Range(0, 50).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/echo") { Content = new GatedContent(4, release.Task) };
            using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
            return await response.Content.ReadAsStringAsync(Ct);
        }).ToArray();
        await Task.Delay(1000, Ct); // every guest is now in blocking-read on an empty body
        var threadsWaiting = Process.GetCurrentProcess().Threads.Count;
        Assert.All(requests, r => Assert.False(r.IsCompleted));
        release.SetResult("body"u8.ToArray());
        var bodies = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.All(bodies, b => Assert.Equal("body", b));
        Assert.True(threadsWaiting - threadsBefore < 25, $"threads grew from {threadsBefore} to {threadsWaiting} with 50 guests waiting");
    }

    [Fact]
    public async Task Env_component_sees_the_cgi_environment_and_argv()
    {
        await using var server = await WagiComponentTestServer.StartAsync(["env"], (f, logs) =>
            WagiComponentTestServer.Options(f, logs, environment: [new("FROM_MANIFEST", "yes"), new("PATH_INFO", "manifest-first")]));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/env/a%20b/c?x=1&y=2") { Content = new StringContent("12345") };
        request.Headers.Add("User-Agent", "curl/8");
        request.Headers.Add("X-Custom", "v");
        request.Headers.Add("Authorization", "Bearer secret");
        using var response = await server.Client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var env = EnvOutput.Parse(await response.Content.ReadAsStringAsync(Ct), out var argv);
        string One(string name) => Assert.Single(env[name]);

        Assert.Equal(["/env/a%20b/c", "x=1", "y=2"], argv);
        Assert.Equal("yes", One("FROM_MANIFEST"));
        Assert.Equal(["manifest-first", "/a%20b/c"], env["PATH_INFO"]); // manifest value first, then the CGI one
        Assert.Equal("POST", One("REQUEST_METHOD"));
        Assert.Equal("x=1&y=2", One("QUERY_STRING"));
        Assert.Equal("5", One("CONTENT_LENGTH"));
        Assert.Equal("CGI/1.1", One("GATEWAY_INTERFACE"));
        Assert.Equal("/env", One("SCRIPT_NAME"));
        Assert.Equal("/env/...", One("X_MATCHED_ROUTE"));
        Assert.Equal("/a b/c", One("PATH_TRANSLATED"));
        Assert.Equal("127.0.0.1", One("REMOTE_ADDR"));
        Assert.Equal("curl/8", One("HTTP_USER_AGENT"));
        Assert.Equal("v", One("HTTP_X_CUSTOM"));
        Assert.False(env.ContainsKey("HTTP_AUTHORIZATION"));
        Assert.True(server.Logs.Lines.Any(l => l.Contains("[env stderr] env: starting")), string.Join("\n", server.Logs.Lines)); // stderr → ILogger

        // A custom argv template and an empty query.
        await using var custom = await WagiComponentTestServer.StartAsync(["env"], (f, logs) =>
            WagiComponentTestServer.Options(f, logs, argv: "prog --path ${SCRIPT_NAME} ${ARGS}"));
        EnvOutput.Parse(await custom.Client.GetStringAsync("/env/x?a=1&b", Ct), out argv);
        Assert.Equal(["prog", "--path", "/env/x", "a=1", "b"], argv);
    }

    [Fact]
    public async Task Location_and_status_headers_go_through_the_cgi_parser()
    {
        await using var server = await WagiComponentTestServer.StartAsync(["redirect", "notfound"]);
        using var response = await server.Client.GetAsync("/redirect", Ct);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/elsewhere", response.Headers.Location?.OriginalString);

        using var status = await server.Client.GetAsync("/notfound", Ct);
        Assert.Equal(HttpStatusCode.NotFound, status.StatusCode);
        Assert.Equal(["yes"], status.Headers.GetValues("x-custom"));
        Assert.Equal("no such thing\n", await status.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Exit_failure_trap_and_timeout_give_500_and_the_server_keeps_serving()
    {
        await using var server = await WagiComponentTestServer.StartAsync(["exit1", "trap", "spin", "echo"], (f, logs) =>
            WagiComponentTestServer.Options(f, logs, timeout: f == "spin" ? TimeSpan.FromMilliseconds(500) : null));

        using (var exit = await server.Client.GetAsync("/exit1", Ct))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, exit.StatusCode);
            Assert.Empty(await exit.Content.ReadAsByteArrayAsync(Ct));
        }
        Assert.Contains(server.Logs.Lines, l => l.Contains("exit1") && l.Contains("exited with status 1"));

        using (var trap = await server.Client.GetAsync("/trap", Ct))
            Assert.Equal(HttpStatusCode.InternalServerError, trap.StatusCode);
        Assert.Contains(server.Logs.Lines, l => l.Contains("trap failed: trapped"));

        var watch = Stopwatch.StartNew();
        using (var spin = await server.Client.GetAsync("/spin", Ct))
            Assert.Equal(HttpStatusCode.InternalServerError, spin.StatusCode);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(10));
        Assert.Contains(server.Logs.Lines, l => l.Contains("spin failed: timed out"));

        // Every component, the failing ones included, still serves.
        using (var again = await server.Client.GetAsync("/trap", Ct))
            Assert.Equal(HttpStatusCode.InternalServerError, again.StatusCode);
        using var echo = await server.Client.PostAsync("/echo", new StringContent("still here"), Ct);
        Assert.Equal("still here", await echo.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_timeout_after_the_headers_aborts_the_response()
    {
        await using var server = await WagiComponentTestServer.StartAsync(["echo"], (f, logs) =>
            WagiComponentTestServer.Options(f, logs, timeout: TimeSpan.FromMilliseconds(300)));
        // echo sends its headers at once, then waits in blocking-read for a body that never comes.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/echo") { Content = new StalledContent() };
        var failed = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var response = await server.Client.SendAsync(request, Ct);
            await response.Content.ReadAsByteArrayAsync(Ct);
        });
        Assert.True(failed is HttpRequestException or IOException, failed.ToString());
        Assert.Contains(server.Logs.Lines, l => l.Contains("aborting the response"));
        using var next = await server.Client.PostAsync("/echo", new StringContent("still here"), Ct);
        Assert.Equal("still here", await next.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>Declares 10 bytes, sends 2, then nothing for longer than the request timeout.</summary>
    private sealed class StalledContent : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync("ab"u8.ToArray());
            await stream.FlushAsync();
            await Task.Delay(3000, TestContext.Current.CancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 10;
            return true;
        }
    }

    [Fact]
    public async Task Files_mounts_are_preopened_read_only_and_confined()
    {
        var root = Directory.CreateTempSubdirectory("spindle-wagi-cli-files-").FullName;
        try
        {
            var mount = Directory.CreateDirectory(Path.Combine(root, "static")).FullName;
            File.WriteAllText(Path.Combine(mount, "hello.txt"), "hello from a mounted file\n");
            File.WriteAllText(Path.Combine(root, "secret.txt"), "SECRET");
            await using var server = await WagiComponentTestServer.StartAsync(["readfile"], (f, logs) =>
            {
                var o = WagiComponentTestServer.Options(f, logs);
                return new WagiOptions
                {
                    Engine = o.Engine, ComponentId = o.ComponentId, ModulePath = o.ModulePath, Logger = o.Logger,
                    Files = [new Spindle.Wasi.Preview1.WasiFileMount(mount, "/data")],
                };
            });
            using (var ok = await server.Client.GetAsync("/readfile?/data/hello.txt", Ct))
            {
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
                Assert.Equal("hello from a mounted file\n", await ok.Content.ReadAsStringAsync(Ct));
            }
            using var escape = await server.Client.GetAsync("/readfile?/data/../secret.txt", Ct);
            Assert.Equal(HttpStatusCode.NotFound, escape.StatusCode);
            Assert.DoesNotContain("SECRET", await escape.Content.ReadAsStringAsync(Ct));
            using var missing = await server.Client.GetAsync("/readfile?/data/nope.txt", Ct);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Load_errors_name_the_component_and_the_problem()
    {
        var entry = Assert.Throws<WagiLoadException>(() => WagiComponentExecutor.Create(WagiComponentTestServer.Options("echo", entrypoint: "main")));
        Assert.Contains("'echo'", entry.Message);
        Assert.Contains("entrypoint", entry.Message);
        Assert.Contains("\"main\"", entry.Message);

        Assert.True(WagiComponentExecutor.IsComponent(WagiComponentTestServer.Options("echo")));
        Assert.False(WagiComponentExecutor.IsComponent(WagiTestServer.Options("echo")));

        // A component that is not a command (a wasi:http handler) is refused with what it exports.
        var http = Paths.Fixture("js/hello.wasm");
        var notCommand = Assert.Throws<WagiLoadException>(() => WagiComponentExecutor.Create(new WagiOptions
        {
            Engine = WagiTestServer.Engine, ComponentId = "h", ModulePath = http,
        }));
        Assert.Contains("wasi:cli/run", notCommand.Message);
        Assert.Contains("wasi:http/incoming-handler", notCommand.Message);
    }

    [Fact]
    public async Task Spindle_up_runs_a_wagi_component_from_the_manifest()
    {
        var dir = Directory.CreateTempSubdirectory("spindle-wagi-cli-");
        try
        {
            File.Copy(Paths.Fixture("wagi-cli/env.wasm"), Path.Combine(dir.FullName, "env.wasm"));
            File.Copy(Paths.Fixture("wagi-cli/echo.wasm"), Path.Combine(dir.FullName, "echo.wasm"));
            var manifest = Path.Combine(dir.FullName, "spin.toml");
            await File.WriteAllTextAsync(manifest, """
                spin_manifest_version = 2

                [application]
                name = "wagi-cli"

                [[trigger.http]]
                route = "/env/..."
                component = "env"
                executor = { type = "wagi", argv = "env ${SCRIPT_NAME} ${ARGS}" }

                [[trigger.http]]
                route = "/echo"
                component = "echo"
                executor = { type = "wagi" }

                [component.env]
                source = "env.wasm"
                environment = { FROM_MANIFEST = "yes" }

                [component.echo]
                source = "echo.wasm"
                """, Ct);
            using var runtime = new SpindleEngine();
            await using var host = await SpindleHost.StartAsync(new SpindleHostOptions
            {
                ManifestPath = manifest,
                ListenAddress = "127.0.0.1:0",
                Executors = runtime.CreateRegistry(),
                Output = new StringWriter(),
                ConfigureLogging = b => b.ClearProviders(),
            }, Ct);
            using var client = new HttpClient { BaseAddress = host.BaseUrl };
            var env = EnvOutput.Parse(await client.GetStringAsync("/env/deep/path?q=1", Ct), out var argv);
            Assert.Equal(["env", "/env/deep/path", "q=1"], argv);
            Assert.Equal(["yes"], env["FROM_MANIFEST"]);
            Assert.Equal(["GET"], env["REQUEST_METHOD"]);
            Assert.Equal(["/deep/path"], env["PATH_INFO"]);
            Assert.Equal(["/env/..."], env["X_MATCHED_ROUTE"]);
            using var echo = await client.PostAsync("/echo", new StringContent("through spindle up"), Ct);
            Assert.Equal(HttpStatusCode.OK, echo.StatusCode);
            Assert.Equal("through spindle up", await echo.Content.ReadAsStringAsync(Ct));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
