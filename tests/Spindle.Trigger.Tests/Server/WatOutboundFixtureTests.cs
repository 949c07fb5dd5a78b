using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors.WasiHttp;
using Spindle.Trigger.Tests.Support;
using Spindle.Wasi.Http;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Tests.Server;

/// <summary>
/// tests/fixtures/wat/http-outbound.wat (one outbound request per incoming request, described by x-* headers)
/// served by <see cref="WasiHttpExecutor"/> on a loopback Kestrel, sending to another loopback Kestrel.
/// </summary>
public sealed class WatOutboundFixtureTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly WasmEngine _engine = new(new EngineOptions { AsyncStackSize = 8 * 1024 * 1024 });
    private readonly CapturingLoggerProvider _logs = new();
    private readonly HttpMessageInvoker _invoker = new(new SocketsHttpHandler { UseProxy = false });
    private readonly List<WebApplication> _apps = [];
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private int _upstreamRequests;
    private string? _fromGuest;

    private string Logs => string.Join("\n", _logs.Entries.Select(e => $"{e.Level}: {e.Message}"));

    private async Task<Uri> StartAsync(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync(Ct);
        _apps.Add(app);
        return new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    /// <summary>GET /hello answers "hi", GET /slow answers after 10 s, POST echoes the body (read whole first, so the
    /// guest, which writes its whole request body before it reads the response, cannot deadlock), else 404.</summary>
    private Task<Uri> StartUpstreamAsync() => StartAsync(async http =>
    {
        Interlocked.Increment(ref _upstreamRequests);
        _fromGuest = http.Request.Headers["x-from-guest"];
        if (HttpMethods.IsPost(http.Request.Method))
        {
            var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, http.RequestAborted);
            await http.Response.Body.WriteAsync(body.ToArray(), http.RequestAborted);
        }
        else if (http.Request.Path == "/hello")
            await http.Response.WriteAsync("hi", http.RequestAborted);
        else if (http.Request.Path == "/slow")
        {
            await Task.Delay(TimeSpan.FromSeconds(10), http.RequestAborted);
            await http.Response.WriteAsync("late", http.RequestAborted);
        }
        else
            http.Response.StatusCode = 404;
    });

    private Task<Uri> ServeFixtureAsync(OutboundHttpHandler? outbound)
    {
        var executor = WasiHttpExecutor.Load(_engine, File.ReadAllBytes(Paths.Fixture("wat/http-outbound.wasm")), "outbound", [],
            _logs.CreateLogger("wat"), TimeSpan.FromSeconds(60), outbound);
        return StartAsync(executor.ServeAsync);
    }

    private Task<Uri> ServeFixtureAsync() => ServeFixtureAsync(HttpClientOutbound.Create(_invoker));

    private async Task<HttpResponseMessage> SendAsync(Uri guest, HttpMethod method, params (string Name, string Value)[] headers) =>
        await SendAsync(guest, method, null, headers);

    private async Task<HttpResponseMessage> SendAsync(Uri guest, HttpMethod method, byte[]? body, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, guest);
        if (body is not null) request.Content = new ByteArrayContent(body);
        foreach (var (name, value) in headers) request.Headers.Add(name, value);
        var response = await _client.SendAsync(request, Ct);
        await response.Content.LoadIntoBufferAsync(Ct);
        return response;
    }

    private string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values)
            : throw new Xunit.Sdk.XunitException($"no {name} header: {response.StatusCode} {response.Headers}\n{Logs}");

    private static (string, string)[] To(Uri upstream, string path) =>
        [("x-scheme", "http"), ("x-authority", upstream.Authority), ("x-path", path)];

    [Fact]
    public async Task A_get_reaches_the_upstream_and_its_status_and_body_come_back()
    {
        var upstream = await StartUpstreamAsync();
        var guest = await ServeFixtureAsync();

        using var hello = await SendAsync(guest, HttpMethod.Get, To(upstream, "/hello"));
        Assert.True(hello.StatusCode == HttpStatusCode.OK, $"{hello.StatusCode}\n{Logs}");
        Assert.Equal("200", Header(hello, "x-upstream-status"));
        Assert.Equal("hi", await hello.Content.ReadAsStringAsync(Ct));
        Assert.Equal("wat", _fromGuest);

        using var missing = await SendAsync(guest, HttpMethod.Get, To(upstream, "/missing?q=1"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("404", Header(missing, "x-upstream-status"));
        Assert.Empty(await missing.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task A_1_MB_post_body_streams_to_the_upstream_and_back_byte_exact()
    {
        var upstream = await StartUpstreamAsync();
        var guest = await ServeFixtureAsync();
        var data = new byte[1_000_000];
        new Random(11).NextBytes(data);

        using var response = await SendAsync(guest, HttpMethod.Post, data, [.. To(upstream, "/echo"), ("x-method", "POST")]);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}\n{Logs}");
        Assert.Equal("200", Header(response, "x-upstream-status"));
        var echoed = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(data.Length, echoed.Length);
        Assert.True(data.AsSpan().SequenceEqual(echoed), "echoed body differs");
    }

    [Fact]
    public async Task A_closed_port_is_connection_refused()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var guest = await ServeFixtureAsync();

        using var response = await SendAsync(guest, HttpMethod.Get, ("x-scheme", "http"), ("x-authority", $"127.0.0.1:{port}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("6", Header(response, "x-error-code"));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Without_an_outbound_handler_the_request_is_denied()
    {
        var upstream = await StartUpstreamAsync();
        var guest = await ServeFixtureAsync(null);

        using var response = await SendAsync(guest, HttpMethod.Get, To(upstream, "/hello"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("15", Header(response, "x-error-code"));
        Assert.Equal(0, _upstreamRequests);
    }

    [Fact]
    public async Task A_forbidden_header_is_refused_by_fields_append_and_nothing_is_sent()
    {
        var upstream = await StartUpstreamAsync();
        var guest = await ServeFixtureAsync();

        using var response = await SendAsync(guest, HttpMethod.Get, [.. To(upstream, "/hello"), ("x-forbidden-header", "host")]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1", Header(response, "x-header-error"));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(0, _upstreamRequests);
    }

    [Fact]
    public async Task A_first_byte_timeout_from_request_options_is_connection_read_timeout()
    {
        var upstream = await StartUpstreamAsync();
        var guest = await ServeFixtureAsync();

        using var response = await SendAsync(guest, HttpMethod.Get, [.. To(upstream, "/slow"), ("x-first-byte-timeout-ns", "200000000")]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // As wasmtime reports it: no response head within the first-byte timeout is connection-read-timeout.
        Assert.Equal("9", Header(response, "x-error-code"));
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        _invoker.Dispose();
        _engine.Dispose();
    }
}
