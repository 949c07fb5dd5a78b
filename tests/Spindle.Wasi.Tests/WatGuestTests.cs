using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Spindle.Components.Runtime;
using Spindle.Trigger.Http.Executors.WasiHttp;
using Spindle.Wasmtime;

namespace Spindle.Wasi.Tests;

/// <summary>WAT guests through the component runtime, served by <see cref="WasiHttpExecutor"/> on a real Kestrel.</summary>
public sealed class WatGuestTests : IDisposable
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private readonly WasmEngine _engine = new(new EngineOptions { AsyncStackSize = 8 * 1024 * 1024 });
    private readonly TestLogSink _logs = new();

    private async Task<TestServer> ServeAsync(string handleBody, TimeSpan? timeout = null)
    {
        var component = Component.Load(_engine, Wat.ToWasm(WatGuests.Component(handleBody)), WasiHost.CreateRegistry());
        var executor = WasiHttpExecutor.Create(_engine, component, "wat", [], _logs, timeout ?? TimeSpan.FromSeconds(30));
        return await TestServer.StartAsync(executor.ServeAsync, _logs);
    }

    private string Logs => string.Join("\n", _logs.Lines);

    [Fact]
    public async Task Hello()
    {
        await using var server = await ServeAsync(WatGuests.Hello);
        using var response = await server.Client.GetAsync("/", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode} {body}\n{Logs}");
        Assert.Equal("hello from wat\n", body);
    }

    [Fact]
    public async Task A_1_MiB_body_written_as_fast_as_check_write_allows_arrives_intact()
    {
        // tests/fixtures/wat/http-big.wat: check-write, write, and blocking-flush when the host grants no budget
        // (the host's pipe is full until the client reads), so backpressure is exercised on every request.
        var component = Component.Load(_engine, File.ReadAllBytes(Spindle.Testing.Paths.Fixture("wat/http-big.wasm")), WasiHost.CreateRegistry());
        var executor = WasiHttpExecutor.Create(_engine, component, "big", [], _logs, TimeSpan.FromSeconds(30));
        await using var server = await TestServer.StartAsync(executor.ServeAsync, _logs);
        for (var round = 0; round < 3; round++)
        {
            var body = await server.Client.GetByteArrayAsync("/", Ct);
            Assert.True(body.Length == 1 << 20, $"{body.Length} bytes\n{Logs}");
            for (var i = 0; i < body.Length; i++)
                if (body[i] != (byte)(i % 251))
                    Assert.Fail($"byte {i} is {body[i]}");
        }
    }

    [Fact]
    public async Task Guest_headers_reach_the_client()
    {
        await using var server = await ServeAsync(WatGuests.HelloWithHeader);
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}\n{Logs}");
        Assert.Equal(["yes"], response.Headers.GetValues("x-wat"));
        Assert.Equal("hello from wat\n", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_header_kestrel_cannot_send_is_an_empty_500()
    {
        await using var server = await ServeAsync(WatGuests.NonAsciiHeader);
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.False(response.Headers.Contains("x-wat"));
    }

    [Fact]
    public async Task Echo_streams_a_large_body_both_ways()
    {
        await using var server = await ServeAsync(WatGuests.Echo);
        var data = new byte[2 * 1024 * 1024 + 3];
        new Random(7).NextBytes(data);
        using var response = await server.Client.PostAsync("/echo", new ByteArrayContent(data), Ct);
        var body = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}\n{Logs}");
        Assert.Equal(data, body);
    }

    [Fact]
    public async Task Echo_answers_before_the_request_body_is_complete()
    {
        // Raw HTTP/1.1 over a socket: HttpClient would not read the response before it sent the whole request.
        await using var server = await ServeAsync(WatGuests.Echo);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Client.BaseAddress!.Port, Ct);
        var net = tcp.GetStream();
        await net.WriteAsync(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst \r\n"), Ct);
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        while (!seen.ToString().Contains("first ", StringComparison.Ordinal))
        {
            var n = await net.ReadAsync(buffer, Ct);
            Assert.True(n > 0, $"connection closed after: {seen}\n{Logs}");
            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        Assert.StartsWith("HTTP/1.1 200", seen.ToString());
        await net.WriteAsync(Encoding.ASCII.GetBytes("6\r\nsecond\r\n0\r\n\r\n"), Ct);
        while (!seen.ToString().EndsWith("0\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await net.ReadAsync(buffer, Ct);
            Assert.True(n > 0, $"connection closed after: {seen}");
            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        Assert.Contains("second", seen.ToString());
    }

    [Theory]
    [InlineData(nameof(WatGuests.TrapBeforeResponse))]
    [InlineData(nameof(WatGuests.NoResponse))]
    public async Task Failure_before_the_response_is_an_empty_500(string mode)
    {
        var body = mode == nameof(WatGuests.NoResponse) ? WatGuests.NoResponse : WatGuests.TrapBeforeResponse;
        await using var server = await ServeAsync(body);
        for (var i = 0; i < 2; i++)
        {
            using var response = await server.Client.GetAsync("/", Ct);
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        }
        Assert.Contains(_logs.Lines, l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains("wat", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Trap_after_the_headers_aborts_the_response()
    {
        await using var server = await ServeAsync(WatGuests.TrapAfterHeaders);
        for (var i = 0; i < 3; i++)
        {
            // The head was sent, so the client never gets a clean response: either the connection drops before it
            // reads the head, or the body ends in an error. Never a complete 200, never a 500.
            var error = await Assert.ThrowsAnyAsync<HttpRequestException>(async () =>
            {
                using var response = await server.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead, Ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await response.Content.ReadAsByteArrayAsync(Ct);
            });
            Assert.IsType<IOException>(error.InnerException);
        }
        // Logged once, by the executor: the aborted body adds no line of its own.
        Assert.Equal(3, _logs.Lines.Count(l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains("failed", StringComparison.Ordinal)));
        Assert.DoesNotContain(_logs.Lines, l => l.Contains("response body aborted", StringComparison.Ordinal));
        // The server survives and serves the next request.
        await using var hello = await ServeAsync(WatGuests.Hello);
        Assert.Equal("hello from wat\n", await hello.Client.GetStringAsync("/", Ct));
    }

    [Fact]
    public async Task A_guest_that_never_yields_is_stopped_by_the_request_deadline()
    {
        await using var server = await ServeAsync(WatGuests.SpinForever, TimeSpan.FromMilliseconds(300));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.InRange(sw.ElapsedMilliseconds, 250, 10_000);
    }

    [Fact]
    public void A_component_without_the_handler_export_is_refused_with_its_exports_named()
    {
        using var component = Component.Load(_engine, Wat.ToWasm("(component)"), WasiHost.CreateRegistry());
        var error = Assert.Throws<InvalidOperationException>(() => WasiHttpExecutor.Create(_engine, component, "empty", [], _logs));
        Assert.Contains("'empty'", error.Message);
        Assert.Contains("wasi:http/incoming-handler", error.Message);
    }

    public void Dispose() => _engine.Dispose();
}
