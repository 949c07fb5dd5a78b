using Microsoft.Extensions.Logging;
using Spindle.Hosting;
using Spindle.Testing;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>
/// An application folder made by a test: a spin.toml (fixture paths substituted as absolute paths) and any files
/// beside it, served by a real <see cref="SpindleHost"/> on 127.0.0.1:0 with the real executors.
/// </summary>
public sealed class TestApp : IDisposable
{
    /// <summary>Writes <paramref name="manifest"/>; <c>{fixture:js/hello.wasm}</c> becomes that built fixture's path (failing if not built).</summary>
    public TestApp(string manifest)
    {
        Directory.CreateDirectory(Dir);
        File.WriteAllText(ManifestPath, ExpandFixtures(manifest));
    }

    /// <summary>The folder (deleted on dispose).</summary>
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "spindle-e2e", Guid.NewGuid().ToString("N"));

    /// <summary>The manifest path.</summary>
    public string ManifestPath => Path.Combine(Dir, "spin.toml");

    /// <summary>Writes a file relative to the app folder and returns its full path.</summary>
    public string WriteFile(string relative, string content) => WriteFile(relative, System.Text.Encoding.UTF8.GetBytes(content));

    /// <summary>Writes a file relative to the app folder and returns its full path.</summary>
    public string WriteFile(string relative, byte[] content)
    {
        var full = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
        return full;
    }

    /// <summary>Starts a host for this app; <paramref name="configure"/> may change any option but the manifest and executors.</summary>
    public Task<SpindleHost> StartAsync(SharedRuntime runtime, CapturedLog? log = null, Func<SpindleHostOptions, SpindleHostOptions>? configure = null) =>
        Start(runtime, ManifestPath, log, configure);

    /// <summary>Starts a host for any manifest with the shared executors, quietly, logging into <paramref name="log"/>.</summary>
    public static Task<SpindleHost> Start(SharedRuntime runtime, string manifestPath, CapturedLog? log = null,
        Func<SpindleHostOptions, SpindleHostOptions>? configure = null)
    {
        var options = new SpindleHostOptions
        {
            ManifestPath = manifestPath,
            ListenAddress = "127.0.0.1:0",
            Executors = runtime.Executors(),
            Output = TextWriter.Null,
            ConfigureLogging = b =>
            {
                b.ClearProviders();
                if (log is not null) b.AddProvider(log);
            },
        };
        return SpindleHost.StartAsync(configure is null ? options : configure(options), TestContext.Current.CancellationToken);
    }

    /// <summary>A client for <paramref name="baseUrl"/> (no proxy, no redirects).</summary>
    public static HttpClient Client(Uri baseUrl) =>
        new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(60) };

    /// <inheritdoc />
    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }

    private static string ExpandFixtures(string manifest) =>
        System.Text.RegularExpressions.Regex.Replace(manifest, @"\{fixture:([^}]+)\}",
            m => Paths.Fixture(m.Groups[1].Value).Replace("\\", "/"));
}
