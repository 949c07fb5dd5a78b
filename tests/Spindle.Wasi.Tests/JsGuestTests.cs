using Spindle.Engine;
using Spindle.Testing;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Spindle.Components.Runtime;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Executors.WasiHttp;
using Spindle.Wasmtime;

namespace Spindle.Wasi.Tests;

/// <summary>
/// One engine for the JS guests (compiling a 12 MB StarlingMonkey component is slow; the artifact cache makes it
/// once), with a hot lane as <c>spindle up</c> has: requests run on warm instances, reset after each request, so
/// every behaviour below is also shown on a reused instance (the main engine serves when the lane is full).
/// </summary>
public sealed class JsEngineFixture : IDisposable
{
    public WasmEngine Engine { get; } = new(new EngineOptions { AsyncStackSize = 8 * 1024 * 1024 });

    public HotLane Lane { get; } = new(new WasmEngine(SpindleEngine.DefaultHotLaneOptions()));

    private readonly Dictionary<string, WasiHttpExecutor> _executors = [];

    // Built by scripts/build-fixtures.sh (the test command runs it first); a missing fixture fails the test.
    internal static string FixturePath(string name) => Paths.Fixture(Path.Combine("js", name));

    internal WasiHttpExecutor Executor(string name, TestLogSink logs, TimeSpan? timeout = null)
    {
        var path = FixturePath(name);
        lock (_executors)
        {
            // The component (compiled once) is shared; each executor gets the test's logger.
            if (!_components.TryGetValue(name, out var loaded))
            {
                var bytes = File.ReadAllBytes(path);
                _components[name] = loaded = (Component.LoadResettable(Engine, bytes, WasiHost.CreateRegistry()),
                    Component.LoadResettable(Lane.Engine, bytes, WasiHost.CreateRegistry()));
            }
            return WasiHttpExecutor.Create(Engine, loaded.Main, Path.GetFileNameWithoutExtension(name), [new("GREETING", "hi")], logs, timeout,
                lanes: [(Lane, loaded.Hot)]);
        }
    }

    private readonly Dictionary<string, (Component Main, Component Hot)> _components = [];

    public void Dispose()
    {
        foreach (var (main, hot) in _components.Values)
        {
            main.Dispose();
            hot.Dispose();
        }
        Lane.Dispose();
        Engine.Dispose();
    }
}

public class JsGuestTests(JsEngineFixture fixture) : IClassFixture<JsEngineFixture>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private async Task<(TestServer Server, TestLogSink Logs)> ServeAsync(string fixtureName, TimeSpan? timeout = null)
    {
        var logs = new TestLogSink();
        var executor = fixture.Executor(fixtureName, logs, timeout);
        return (await TestServer.StartAsync(executor.ServeAsync, logs), logs);
    }

    [Fact]
    public async Task Hello_answers_through_kestrel()
    {
        var (server, logs) = await ServeAsync("hello.wasm");
        await using var _ = server;
        using var response = await server.Client.GetAsync("/hello?x=1", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {body}\n{string.Join("\n", logs.Lines)}");
        Assert.Equal("Hello from JavaScript\n", body);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Head_gets_the_head_without_a_body()
    {
        var (server, logs) = await ServeAsync("hello.wasm");
        await using var _ = server;
        using var response = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"), Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}\n{string.Join("\n", logs.Lines)}");
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal("Hello from JavaScript\n", await server.Client.GetStringAsync("/", Ct));
    }

    [Fact]
    public async Task Echo_sees_method_url_headers_then_spin_headers_and_the_body()
    {
        var (server, logs) = await ServeAsync("echo.wasm");
        await using var _ = server;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/a/b?q=1%202") { Content = new StringContent("ping body") };
        request.Headers.Add("x-multi", ["1", "2"]);
        request.Headers.Add("spin-path-info", "client-value");
        using var response = await server.Client.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {text}\n{string.Join("\n", logs.Lines)}");
        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.Equal("POST", root.GetProperty("method").GetString());
        Assert.Equal($"http://127.0.0.1:{server.Client.BaseAddress!.Port}/a/b?q=1%202", root.GetProperty("url").GetString());
        Assert.Equal("ping body", root.GetProperty("body").GetString());
        var headers = root.GetProperty("headers").EnumerateArray().Select(h => (h[0].GetString()!, h[1].GetString()!)).ToList();
        Assert.Contains(("x-multi", "1, 2"), headers);
        Assert.DoesNotContain(headers, h => h.Item1 == "host");
        // The client's spin-path-info comes first, then Spin's (joined by the JS Headers object).
        Assert.Contains(("spin-path-info", "client-value, /a/b"), headers);
        Assert.Contains(headers, h => h.Item1 == "spin-full-url" && h.Item2.EndsWith("/a/b?q=1%202", StringComparison.Ordinal));
        Assert.Equal(["one"], response.Headers.GetValues("x-echo"));
        Assert.Equal(["a=1"], response.Headers.GetValues("set-cookie"));
    }

    [Fact]
    public async Task Big_body_arrives_intact()
    {
        var (server, logs) = await ServeAsync("big.wasm");
        await using var _ = server;
        var body = await server.Client.GetByteArrayAsync("/", Ct);
        Assert.True(body.Length == 1 << 20, $"{body.Length} bytes\n{string.Join("\n", logs.Lines)}");
        for (var i = 0; i < body.Length; i++)
            if (body[i] != (byte)(i % 251))
                Assert.Fail($"byte {i} is {body[i]}");
    }

    [Fact]
    public async Task Stream_chunks_reach_the_client_as_they_are_written()
    {
        var (server, logs) = await ServeAsync("stream.wasm");
        await using var _ = server;
        var sw = Stopwatch.StartNew();
        using var response = await server.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        var first = await reader.ReadLineAsync(Ct);
        var firstAt = sw.ElapsedMilliseconds;
        var rest = await reader.ReadToEndAsync(Ct);
        var lastAt = sw.ElapsedMilliseconds;
        Assert.StartsWith("chunk 0 ", first);
        Assert.Equal(19, rest.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        // 19 gaps of 50 ms: the first chunk must arrive well before the end.
        Assert.True(lastAt - firstAt >= 700, $"first at {firstAt} ms, last at {lastAt} ms\n{string.Join("\n", logs.Lines)}");
    }

    [Fact]
    public async Task A_client_leaving_mid_stream_does_not_disturb_the_server()
    {
        var (server, logs) = await ServeAsync("stream.wasm");
        await using var _ = server;
        using (var response = await server.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead, Ct))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
            Assert.StartsWith("chunk 0 ", await reader.ReadLineAsync(Ct));
        }
        // The abandoned guest sees a closed stream and ends; the next request is served in full.
        var full = await server.Client.GetStringAsync("/", Ct);
        Assert.True(full.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 20, $"{full}\n{string.Join("\n", logs.Lines)}");
    }

    [Fact]
    public async Task Upload_is_streamed_into_the_guest()
    {
        var (server, logs) = await ServeAsync("upload-sha256.wasm");
        await using var _ = server;
        var data = new byte[3 * 1024 * 1024 + 17];
        new Random(42).NextBytes(data);
        using var response = await server.Client.PostAsync("/", new StreamContent(new MemoryStream(data)), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {text}\n{string.Join("\n", logs.Lines)}");
        Assert.Equal($"{data.Length} {Convert.ToHexStringLower(SHA256.HashData(data))}\n", text);
    }

    // StarlingMonkey answers a throwing or silent handler itself: a 500 with an "ERROR" text body that it never
    // finishes; the handler then returns normally, so the body ends cleanly.
    [Theory]
    [InlineData("throw.wasm")]
    [InlineData("no-response.wasm")]
    public async Task Guest_failure_is_a_500_and_the_server_keeps_serving(string name)
    {
        var (server, logs) = await ServeAsync(name);
        await using var _ = server;
        for (var i = 0; i < 2; i++)
        {
            HttpResponseMessage response;
            try
            {
                response = await server.Client.GetAsync("/", Ct);
            }
            catch (HttpRequestException e)
            {
                Assert.Fail($"{e.Message}\n{string.Join("\n", logs.Lines)}");
                throw;
            }
            using var __ = response;
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            Assert.StartsWith("ERROR", await response.Content.ReadAsStringAsync(Ct));
        }
        if (name == "throw.wasm")
            Assert.Contains(logs.Lines, l => l.StartsWith("Warning: [throw stderr]", StringComparison.Ordinal) && l.Contains("boom from the guest", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sleeping_guests_wait_concurrently()
    {
        var (server, logs) = await ServeAsync("sleep.wasm");
        await using var _ = server;
        Assert.Equal("slept\n", await server.Client.GetStringAsync("/", Ct));
        var sw = Stopwatch.StartNew();
        var all = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => server.Client.GetStringAsync("/", Ct)));
        Assert.All(all, b => Assert.Equal("slept\n", b));
        // 40 × 100 ms one after another would be 4 s.
        Assert.True(sw.ElapsedMilliseconds < 3000, $"{sw.ElapsedMilliseconds} ms\n{string.Join("\n", logs.Lines.TakeLast(5))}");
    }

    [Fact]
    public async Task Request_timeout_gives_500()
    {
        var (server, _) = await ServeAsync("sleep.wasm", timeout: TimeSpan.FromMilliseconds(30));
        await using var __ = server;
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
    }
}
