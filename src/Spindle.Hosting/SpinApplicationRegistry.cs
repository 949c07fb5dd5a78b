using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Spindle.App.Manifest;
using Spindle.App.RuntimeConfiguration;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;

namespace Spindle.Hosting;

/// <summary>One application mapped into the host: loaded and serving, or the reason it is not.</summary>
internal sealed class MappedSpinApplication(string? name, string manifestPath, LoadedSpinApplication? loaded, SpinHttpTrigger? trigger, string? error)
{
    /// <summary>The application's name, or its manifest path when the manifest could not be read.</summary>
    public string Name { get; } = name ?? manifestPath;

    /// <summary>How messages name it: <c>'name' (path)</c>, or the path alone.</summary>
    public string Display => Name == ManifestPath ? ManifestPath : $"'{Name}' ({ManifestPath})";
    public string ManifestPath { get; } = manifestPath;
    public LoadedSpinApplication? Loaded { get; } = loaded;
    public SpinHttpTrigger? Trigger { get; } = trigger;
    public string? Error { get; } = error;
}

/// <summary>
/// Loads and owns the applications of a host (mapped with <c>MapSpinApplication</c>, or the one <c>spindle up</c>
/// serves). Depends on the executors, whose registration depends on the engine, so the container creates both first
/// and disposes them after it (a caller's own executors, as <c>spindle up</c> passes, leave the engine uncreated). When the host stops, Kestrel drains the in-flight
/// requests first (<see cref="IHostApplicationLifetime.ApplicationStopping"/> marks the applications as stopping, for
/// the health check), then <see cref="IHostApplicationLifetime.ApplicationStopped"/> releases the applications.
/// </summary>
internal sealed class SpinApplicationRegistry : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<MappedSpinApplication> _apps = [];
    private readonly ExecutorFactoryRegistry _executors;
    private readonly SpindleOptions _options;
    private readonly ILoggerFactory _logging;
    private readonly IConfiguration? _configuration;
    private readonly IHostEnvironment? _environment;
    private readonly ILogger _log;
    private int _disposed;

    public SpinApplicationRegistry(ExecutorFactoryRegistry executors, IOptions<SpindleOptions> options, ILoggerFactory logging,
        IHostApplicationLifetime? lifetime = null, IConfiguration? configuration = null, IHostEnvironment? environment = null)
    {
        _executors = executors;
        _options = options.Value;
        _logging = logging;
        _configuration = configuration;
        _environment = environment;
        _log = logging.CreateLogger("Spindle.Hosting");
        lifetime?.ApplicationStopping.Register(() => Stopping = true);
        lifetime?.ApplicationStopped.Register(() => DisposeAsync().AsTask().GetAwaiter().GetResult());
    }

    /// <summary>Set when the host begins to stop.</summary>
    public bool Stopping { get; private set; }

    public IReadOnlyList<MappedSpinApplication> Applications
    {
        get
        {
            lock (_lock) return [.. _apps];
        }
    }

    /// <summary>
    /// Loads the application at <paramref name="manifestPath"/> (relative to the content root). A failure is logged
    /// and kept (the health check reports it; its requests get 503), so the host's other endpoints still serve.
    /// </summary>
    public MappedSpinApplication Load(string manifestPath, SpinApplicationOptions options)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var path = Path.GetFullPath(manifestPath, _environment?.ContentRootPath ?? Environment.CurrentDirectory);
        MappedSpinApplication mapped;
        string? name = null;
        try
        {
            var app = ManifestLoader.Load(path);
            name = app.Name;
            var runtimeConfig = options.RuntimeConfigPath is { } rc
                ? RuntimeConfigLoader.Load(Path.GetFullPath(rc, _environment?.ContentRootPath ?? Environment.CurrentDirectory))
                : RuntimeConfig.Empty;
            var configuration = _configuration;
            var loaded = SpinApplicationLoader.LoadAsync(new SpinApplicationLoad
            {
                App = app,
                RuntimeConfig = runtimeConfig,
                StateDirectory = options.StateDirectory,
                Variables = [.. options.Variables],
                EnvironmentVariables = options.VariablesFromConfiguration && configuration is not null ? name => configuration[name] : null,
                Executors = _executors,
                Server = _options.Server,
                Quiet = options.Quiet,
            }, _logging).GetAwaiter().GetResult();
            var trigger = new SpinHttpTrigger(loaded.Application, _logging.CreateLogger<SpinHttpTrigger>());
            mapped = new MappedSpinApplication(app.Name, path, loaded, trigger, null);
            _log.ApplicationLoaded(app.Name, path);
        }
        catch (Exception e) when (e is SpindleStartupException or ManifestException)
        {
            mapped = new MappedSpinApplication(name, path, null, null, e.Message);
            _log.ApplicationFailed(path, e.Message);
        }
        lock (_lock) _apps.Add(mapped);
        return mapped;
    }

    /// <summary>Adds an application loaded elsewhere (<c>spindle up</c>), which the registry then owns.</summary>
    public MappedSpinApplication Add(string manifestPath, LoadedSpinApplication loaded, SpinHttpTrigger? trigger = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var mapped = new MappedSpinApplication(loaded.Application.App.Name, manifestPath, loaded, trigger, null);
        lock (_lock) _apps.Add(mapped);
        return mapped;
    }

    /// <summary>Releases every loaded application (once), newest first.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Stopping = true;
        MappedSpinApplication[] apps;
        lock (_lock) apps = [.. _apps];
        for (var i = apps.Length - 1; i >= 0; i--)
            if (apps[i].Loaded is { } loaded) await loaded.DisposeAsync();
    }
}
