using Microsoft.Extensions.Logging;
using Spindle.App.Model;
using Spindle.Hosting;
using Spindle.Trigger.Http.Executors;

namespace Spindle.Trigger.Tests.Support;

/// <summary>Starts a real <see cref="SpindleHost"/> (Kestrel on 127.0.0.1:0) for a manifest, with echo executors.</summary>
internal sealed class RunningHost : IAsyncDisposable
{
    private RunningHost(SpindleHost host, EchoExecutorFactory echo, StringWriter output)
    {
        Host = host;
        Echo = echo;
        Output = output;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { BaseAddress = host.BaseUrl };
    }

    public SpindleHost Host { get; }

    public EchoExecutorFactory Echo { get; }

    public StringWriter Output { get; }

    public HttpClient Client { get; }

    public static async Task<RunningHost> StartAsync(string manifestPath, TimeSpan? requestTimeout = null, bool quiet = false)
    {
        var echo = new EchoExecutorFactory();
        var output = new StringWriter();
        var host = await SpindleHost.StartAsync(new SpindleHostOptions
        {
            ManifestPath = manifestPath,
            ListenAddress = "127.0.0.1:0",
            Executors = Registry(echo),
            Output = output,
            Server = new() { RequestTimeout = requestTimeout },
            Quiet = quiet,
            // Keep test output readable: expected failures (trapping components...) would log stack traces.
            ConfigureLogging = b => b.ClearProviders(),
        });
        return new RunningHost(host, echo, output);
    }

    public static ExecutorFactoryRegistry Registry(EchoExecutorFactory echo) =>
        new ExecutorFactoryRegistry().Add(ExecutorKind.Http, echo).Add(ExecutorKind.Wagi, echo);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
    }
}
