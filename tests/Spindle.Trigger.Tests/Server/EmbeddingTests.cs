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
}
