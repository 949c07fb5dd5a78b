using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spindle.App.Manifest;
using Spindle.App.Variables;
using Spindle.Hosting;
using Spindle.Trigger.Http.Server;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Server;

/// <summary>The engine mounted inside an ordinary ASP.NET Core application, next to its own endpoints.</summary>
public sealed class EmbeddingTests
{
    [Fact]
    public async Task A_mapped_Spin_application_shares_the_pipeline_with_other_endpoints()
    {
        var ct = TestContext.Current.CancellationToken;
        using var app = new TempApp("""
            spin_manifest_version = 2
            [application]
            name = "embedded"
            [[trigger.http]]
            route = "/..."
            static_response = { body = "from spin" }
            """);
        var model = ManifestLoader.Load(app.ManifestPath);
        await using var spin = SpinHttpApplication.Create(model, VariableResolver.Create(model, []), new(), NullLoggerFactory.Instance);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var web = builder.Build();
        web.MapGet("/status", () => "from aspnet");
        web.MapSpinApplication(spin);
        await web.StartAsync(ct);
        var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        using var client = new HttpClient { BaseAddress = new Uri(address) };
        Assert.Equal("from aspnet", await client.GetStringAsync("/status", ct));
        Assert.Equal("from spin", await client.GetStringAsync("/anything/else", ct));
        Assert.Equal("OK", await client.GetStringAsync("/.well-known/spin/health", ct));
        await web.StopAsync(ct);
    }

    [Fact]
    public async Task A_manifest_mapped_on_a_parameterised_group_routes_relative_to_the_group()
    {
        var ct = TestContext.Current.CancellationToken;
        using var app = new TempApp("""
            spin_manifest_version = 2
            [application]
            name = "grouped"
            [[trigger.http]]
            route = "/hi"
            static_response = { body = "hi from spin" }
            """);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        // A static response needs no instances: the smallest engine.
        builder.Services.AddSpindle(o =>
        {
            o.Engine.Pooling = false;
            o.Engine.UseArtifactCache = false;
        });
        await using var web = builder.Build();
        web.MapGroup("/tenants/{tenant}").MapSpinApplication(app.ManifestPath);
        web.MapHealthChecks("/healthz");
        await web.StartAsync(ct);
        var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        using var client = new HttpClient { BaseAddress = new Uri(address) };
        Assert.Equal("hi from spin", await client.GetStringAsync("/tenants/a%20b/hi", ct));
        Assert.Equal("OK", await client.GetStringAsync("/tenants/x/.well-known/spin/health", ct));
        using (var unrouted = await client.GetAsync("/tenants/x/nothing", ct))
            Assert.Equal(System.Net.HttpStatusCode.NotFound, unrouted.StatusCode);
        using (var outside = await client.GetAsync("/hi", ct))
            Assert.Equal(System.Net.HttpStatusCode.NotFound, outside.StatusCode);
        Assert.Equal("Healthy", await client.GetStringAsync("/healthz", ct));
        await web.StopAsync(ct);
    }
}
