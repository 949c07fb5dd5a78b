using Spindle.Hosting;

namespace Spindle.Examples.AspNetCore;

/// <summary>
/// The example application: its own endpoint at <c>/</c>, the Spin application of <c>examples/hello</c> under
/// <c>/spin</c> (so <c>/spin/hello/...</c> reaches its JavaScript component), and the health checks at
/// <c>/healthz</c>. Spindle's settings come from the <c>Spindle</c> section of the configuration (appsettings.json,
/// <c>Spindle__Engine__PoolInstances=...</c> environment variables, <c>--Spindle:Server:RequestTimeout=...</c>).
/// </summary>
public static class ExampleApp
{
    /// <summary>The configuration key naming the manifest to mount (default <c>../hello/spin.toml</c>, from the content root).</summary>
    public const string ManifestKey = "SpinManifest";

    /// <summary>Builds the application (not started): <c>await ExampleApp.Build(args).RunAsync()</c>.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddSpindle();

        var app = builder.Build();
        app.MapGet("/", () => "hello from ASP.NET Core");
        app.MapGroup("/spin").MapSpinApplication(app.Configuration[ManifestKey] ?? "../hello/spin.toml");
        app.MapHealthChecks("/healthz");
        return app;
    }
}
