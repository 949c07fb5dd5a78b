using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Spindle.Examples.AspNetCore;
using Spindle.Hosting;
using Spindle.Testing;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>
/// The ASP.NET Core example (examples/aspnetcore) started in-process on real Kestrel at a loopback port: its own
/// endpoint, the hello Spin application mounted under <c>/spin</c>, the health checks, and a clean stop. Small pools
/// (set through configuration, as an operator would) keep this engine beside the shared one cheap.
/// </summary>
public sealed class AspNetCoreExampleTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static string HelloManifest
    {
        get
        {
            var manifest = Path.Combine(Paths.RepoRoot, "examples", "hello", "spin.toml");
            Assert.True(File.Exists(Path.Combine(Paths.RepoRoot, "examples", "hello", "target", "hello.wasm")),
                "examples/hello/target/hello.wasm is not built: run 'bash scripts/build-fixtures.sh' first");
            return manifest;
        }
    }

    private static string[] Args(string manifest, params string[] more) =>
    [
        "--urls", "http://127.0.0.1:0",
        $"--{ExampleApp.ManifestKey}={manifest}",
        "--Spindle:Engine:PoolInstances=64",
        "--Spindle:Engine:HotInstances=16",
        "--Spindle:Engine:ResidentInstances=0",
        "--Logging:LogLevel:Default=Warning",
        .. more,
    ];

    [Fact]
    public async Task The_example_serves_its_own_endpoint_the_mounted_Spin_app_and_its_health()
    {
        var web = ExampleApp.Build(Args(HelloManifest));
        await web.StartAsync(Ct);
        var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var client = new HttpClient { BaseAddress = new Uri(address) };

        Assert.Equal("hello from ASP.NET Core", await client.GetStringAsync("/", Ct));
        // Routed as /hello/world inside the application; the guest sees the URL the client sent.
        Assert.Equal("Hello from JavaScript!\nGET /spin/hello/world matched /spin/hello/...\n", await client.GetStringAsync("/spin/hello/world", Ct));
        Assert.Equal("Hello from C, spindle!\n", await client.GetStringAsync("/spin/wagi/spindle", Ct));
        Assert.Equal("OK", await client.GetStringAsync("/spin/.well-known/spin/health", Ct));
        // A Spin route outside the prefix is not the Spin application's.
        using (var outside = await client.GetAsync("/hello/world", Ct))
            Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        // Inside the prefix, a path no Spin route matches is the Spin router's 404.
        using (var unrouted = await client.GetAsync("/spin/nothing-here", Ct))
            Assert.Equal(HttpStatusCode.NotFound, unrouted.StatusCode);
        Assert.Equal("Healthy", await client.GetStringAsync("/healthz", Ct));

        // Stopping with requests in flight: each request the server took is answered in full, none fails with a 5xx.
        var requests = Enumerable.Range(0, 40).Select(async i =>
        {
            try
            {
                using var response = await client.GetAsync($"/spin/hello/r{i}", Ct);
                var body = await response.Content.ReadAsStringAsync(Ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal($"Hello from JavaScript!\nGET /spin/hello/r{i} matched /spin/hello/...\n", body);
                return true;
            }
            catch (HttpRequestException)
            {
                return false; // not accepted before the listener closed
            }
        }).ToArray();
        await Task.WhenAny(requests);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await web.StopAsync(Ct);
        var served = await Task.WhenAll(requests);
        Assert.Contains(true, served);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"stopping took {stopwatch.Elapsed}");
        // Stopped: the health check reports it, and disposing releases the applications and then the engine.
        var health = await web.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct);
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        await web.DisposeAsync();
    }

    [Fact]
    public async Task An_application_that_cannot_load_is_unhealthy_naming_it_and_why()
    {
        using var dir = new TempDirectory();
        var manifest = Path.Combine(dir.Path, "spin.toml");
        File.WriteAllText(manifest, """
            spin_manifest_version = 2
            [application]
            name = "broken"
            [[trigger.http]]
            route = "/..."
            component = "bad"
            [component.bad]
            source = "bad.wasm"
            """);
        File.WriteAllBytes(Path.Combine(dir.Path, "bad.wasm"), [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0xff]);
        await using var web = ExampleApp.Build(Args(manifest));
        var report = await web.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        var spindle = report.Entries["spindle"];
        Assert.Contains("'broken'", spindle.Description);
        Assert.Contains("bad.wasm", spindle.Description);
        Assert.Contains(manifest, spindle.Description);

        await web.StartAsync(Ct);
        var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var client = new HttpClient { BaseAddress = new Uri(address) };
        Assert.Equal("hello from ASP.NET Core", await client.GetStringAsync("/", Ct));
        using var spin = await client.GetAsync("/spin/anything", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, spin.StatusCode);
        using var healthz = await client.GetAsync("/healthz", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, healthz.StatusCode);
        await web.StopAsync(Ct);
    }

    [Fact]
    public void An_invalid_setting_stops_the_start_naming_it_and_its_value()
    {
        var e = Assert.Throws<OptionsValidationException>(() => ExampleApp.Build(Args(HelloManifest, "--Spindle:Engine:PoolInstances=0", "--Spindle:Server:MaxChainDepth=0")));
        Assert.Contains("Spindle:Engine:PoolInstances = 0: must be 1..1000000", e.Failures);
        Assert.Contains("Spindle:Server:MaxChainDepth = 0: must be 1 or more", e.Failures);
    }

    [Fact]
    public void The_options_bind_from_configuration_and_the_delegate()
    {
        var builder = WebApplication.CreateSlimBuilder(["--Spindle:Engine:HotInstances=0", "--Spindle:Server:RequestTimeout=00:00:05",
            "--Spindle:Server:Admission:QueueLimit=7"]);
        builder.Services.AddSpindle(o => o.Engine.PoolInstances = 32);
        using var services = builder.Services.BuildServiceProvider();
        var options = services.GetRequiredService<IOptions<SpindleOptions>>().Value;
        Assert.Equal(0u, options.Engine.HotInstances);
        Assert.Equal(32u, options.Engine.PoolInstances);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Server.RequestTimeout);
        Assert.Equal(7, options.Server.Admission.QueueLimit);
        Assert.True(options.Server.InstanceReuse);
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("spindle-aspnetcore-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
