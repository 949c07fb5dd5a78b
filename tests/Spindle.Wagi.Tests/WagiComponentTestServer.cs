using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Executors.Wagi;

namespace Spindle.Wagi.Tests;

/// <summary>
/// A real Kestrel on 127.0.0.1:0 serving several Wagi components (wasi:cli/run, built into artifacts/fixtures/wagi-cli
/// by scripts/build-fixtures.sh): <c>/name/rest</c> goes to the component <c>name</c> with the route <c>/name/...</c>,
/// so one server can show that a failing component leaves the others (and itself) serving.
/// </summary>
internal sealed class WagiComponentTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, WagiComponentExecutor> _executors;

    private WagiComponentTestServer(WebApplication app, Uri address, Dictionary<string, WagiComponentExecutor> executors, LogCollector logs)
    {
        _app = app;
        _executors = executors;
        Client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = address };
        Logs = logs;
    }

    public HttpClient Client { get; }
    public LogCollector Logs { get; }

    /// <summary>Options for the component fixture <c>wagi-cli/{fixture}.wasm</c> (a missing fixture fails the test).</summary>
    public static WagiOptions Options(string fixture, LogCollector? logs = null, TimeSpan? timeout = null,
        IReadOnlyList<KeyValuePair<string, string>>? environment = null, string? argv = null, string entrypoint = "_start") => new()
    {
        Engine = WagiTestServer.Engine,
        ComponentId = fixture,
        ModulePath = Paths.Fixture($"wagi-cli/{fixture}.wasm"),
        Logger = logs ?? (ILogger)Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
        RequestTimeout = timeout,
        Environment = environment ?? [],
        Argv = argv ?? WagiCgiEnvironment.DefaultArgv,
        Entrypoint = entrypoint,
    };

    /// <summary>Starts a server with one executor per fixture name (options made by <paramref name="configure"/> or <see cref="Options"/>).</summary>
    public static async Task<WagiComponentTestServer> StartAsync(string[] fixtures, Func<string, LogCollector, WagiOptions>? configure = null)
    {
        var logs = new LogCollector();
        var executors = fixtures.ToDictionary(f => f, f => WagiComponentExecutor.Create(configure?.Invoke(f, logs) ?? Options(f, logs)));
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(http =>
        {
            var raw = WagiCgiEnvironment.RawPath(http);
            var name = raw.Split('/', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
            if (!executors.TryGetValue(name, out var executor))
            {
                http.Response.StatusCode = 404;
                return Task.CompletedTask;
            }
            var connection = http.Connection;
            return executor.ExecuteAsync(new InboundRequest
            {
                Http = http,
                Route = new(name, $"/{name}/...", $"/{name}/...", $"/{name}", raw[(name.Length + 1)..], "/", []),
                FullUrl = $"{http.Request.Scheme}://{http.Request.Host}{http.Request.Path}{http.Request.QueryString}",
                ClientAddr = $"{connection.RemoteIpAddress}:{connection.RemotePort}",
                SpinHeaders = [],
                Aborted = http.RequestAborted,
            });
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new WagiComponentTestServer(app, new Uri(address), executors, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var e in _executors.Values) e.Dispose();
    }
}
