using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spindle.Engine;
using Spindle.App.Manifest;
using Spindle.App.Variables;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;

namespace Spindle.Trigger.Tests.Support;

/// <summary>
/// A one-component Spin app (<c>route = "/..."</c>, default: the JS sleep fixture) served by the real trigger on
/// real Kestrel at a loopback port, over the given <see cref="SpindleEngine"/>.
/// </summary>
internal sealed class ComponentServer : IAsyncDisposable
{
    private readonly TempApp _app;
    private readonly SpinHttpApplication _spin;
    private readonly WebApplication _web;

    private ComponentServer(TempApp app, SpinHttpApplication spin, WebApplication web, Uri address)
    {
        _app = app;
        _spin = spin;
        _web = web;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 1000 }) { BaseAddress = address };
    }

    public HttpClient Client { get; }

    /// <summary>The component's executor.</summary>
    public IRequestExecutor Executor => _spin.GetExecutor("sleep")!;

    public static Task<ComponentServer> StartAsync(SpindleEngine wasm, AdmissionOptions admission, CancellationToken ct, string? source = null) =>
        StartAppAsync(wasm, admission, $"""
            spin_manifest_version = 2
            [application]
            name = "admission"
            [[trigger.http]]
            route = "/..."
            component = "sleep"
            [component.sleep]
            source = '{source ?? Paths.Fixture("js/sleep.wasm")}'
            """, null, ct);

    /// <summary>Serves the app of <paramref name="manifest"/> (component "sleep" is what <see cref="Executor"/> names).</summary>
    public static async Task<ComponentServer> StartAppAsync(SpindleEngine wasm, AdmissionOptions admission, string manifest,
        TimeSpan? requestTimeout, CancellationToken ct)
    {
        var app = new TempApp(manifest);
        try
        {
            var model = ManifestLoader.Load(app.ManifestPath);
            var spin = SpinHttpApplication.Create(model, VariableResolver.Create(model, []), wasm.CreateRegistry(), NullLoggerFactory.Instance,
                new SpinHttpTriggerOptions { Admission = admission, QuietComponentOutput = true, RequestTimeout = requestTimeout });
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var web = builder.Build();
            web.RunSpinApplication(spin);
            await web.StartAsync(ct);
            var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new ComponentServer(app, spin, web, new Uri(address));
        }
        catch
        {
            app.Dispose();
            throw;
        }
    }

    public async Task<HttpResponseMessage[]> FireAsync(int count, CancellationToken ct)
    {
        using var gate = new SemaphoreSlim(0);
        var requests = Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync(ct);
            var r = await Client.GetAsync("/", ct);
            await r.Content.LoadIntoBufferAsync(ct);
            return r;
        }).ToArray();
        gate.Release(count);
        return await Task.WhenAll(requests);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _web.StopAsync();
        await _web.DisposeAsync();
        await _spin.DisposeAsync();
        _app.Dispose();
    }
}
