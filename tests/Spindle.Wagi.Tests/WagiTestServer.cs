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
using Spindle.Trigger.Http.Routing;
using Spindle.Wasmtime;

namespace Spindle.Wagi.Tests;

/// <summary>
/// A real Kestrel on 127.0.0.1:0 whose only endpoint builds an <see cref="InboundRequest"/> (route facts from
/// <see cref="RouteFor"/>, by default a <c>/...</c> match) and hands it to a Wagi executor.
/// </summary>
internal sealed class WagiTestServer : IAsyncDisposable
{
    /// <summary>
    /// One engine for the test process, with its artifact cache under artifacts/. SPINDLE_TEST_POOLING=1 runs
    /// the same tests on a pooling engine (the production setting).
    /// </summary>
    public static readonly WasmEngine Engine = new(new EngineOptions
    {
        CacheDirectory = Path.Combine(Paths.RepoRoot, "artifacts", "cache", "wagi-tests"),
        Pooling = Environment.GetEnvironmentVariable("SPINDLE_TEST_POOLING") == "1",
    });

    private readonly WebApplication _app;

    private WagiTestServer(WebApplication app, Uri address, WagiExecutor executor, LogCollector logs)
    {
        _app = app;
        Client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = address };
        Executor = executor;
        Logs = logs;
    }

    public HttpClient Client { get; }
    public WagiExecutor Executor { get; }
    public LogCollector Logs { get; }

    /// <summary>Route facts per request; the default matches <c>/...</c> with the whole path as path info.</summary>
    public static RouteMatch DefaultRoute(HttpContext http) =>
        new("wagi-test", "/...", "/...", "", WagiCgiEnvironment.RawPath(http), "/", []);

    public static WagiOptions Options(string fixture) => new()
    {
        Engine = Engine,
        ComponentId = "wagi-test",
        ModulePath = Paths.Fixture($"wagi/{fixture}.wasm"),
    };

    public static async Task<WagiTestServer> StartAsync(WagiOptions options, Func<HttpContext, RouteMatch>? routeFor = null)
    {
        var logs = new LogCollector();
        var executor = WagiExecutor.Create(new WagiOptions
        {
            Engine = options.Engine,
            ComponentId = options.ComponentId,
            ModulePath = options.ModulePath,
            ModuleBytes = options.ModuleBytes,
            Environment = options.Environment,
            Argv = options.Argv,
            Entrypoint = options.Entrypoint,
            Files = options.Files,
            RequestTimeout = options.RequestTimeout,
            UseArtifactCache = options.UseArtifactCache,
            Logger = logs,
        });
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var route = routeFor ?? DefaultRoute;
        app.Run(http =>
        {
            var connection = http.Connection;
            return executor.ExecuteAsync(new InboundRequest
            {
                Http = http,
                Route = route(http),
                FullUrl = $"{http.Request.Scheme}://{http.Request.Host}{http.Request.Path}{http.Request.QueryString}",
                ClientAddr = $"{connection.RemoteIpAddress}:{connection.RemotePort}",
                SpinHeaders = [],
                Aborted = http.RequestAborted,
            });
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new WagiTestServer(app, new Uri(address), executor, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Executor.Dispose();
    }
}

/// <summary>Keeps log lines so tests can check that failures are logged with a reason.</summary>
internal sealed class LogCollector : ILogger
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToArray(); } }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines) _lines.Add($"{logLevel}: {formatter(state, exception)}");
    }
}
