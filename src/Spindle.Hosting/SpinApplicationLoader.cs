using Microsoft.Extensions.Logging;
using Spindle.App.Manifest;
using Spindle.App.Model;
using Spindle.App.RuntimeConfiguration;
using Spindle.App.Variables;
using Spindle.Outbound.Http;
using Spindle.Spin;
using Spindle.Spin.KeyValue;
using Spindle.Spin.Sqlite;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;

namespace Spindle.Hosting;

/// <summary>What a loaded application needs besides its model: state, variables, executors and serving settings.</summary>
internal sealed record SpinApplicationLoad
{
    public required SpinApp App { get; init; }
    public RuntimeConfig RuntimeConfig { get; init; } = RuntimeConfig.Empty;
    public string? StateDirectory { get; init; }
    public IReadOnlyList<string> SqliteStatements { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, string>> KeyValueSeeds { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, string>> Variables { get; init; } = [];
    public Func<string, string?>? EnvironmentVariables { get; init; }
    public required ExecutorFactoryRegistry Executors { get; init; }
    public required SpindleServerOptions Server { get; init; }
    public string? OutboundH2cPriorKnowledge { get; init; }
    public Func<OutboundHttpOptions, OutboundHttpOptions>? ConfigureOutbound { get; init; }
    public bool Quiet { get; init; }
}

/// <summary>A Spin application ready to serve and the state it owns (key-value stores); disposing releases both.</summary>
internal sealed class LoadedSpinApplication(SpinHttpApplication application, KeyValueStores keyValue) : IAsyncDisposable
{
    public SpinHttpApplication Application { get; } = application;

    public KeyValueStores KeyValue { get; } = keyValue;

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await Application.DisposeAsync();
        KeyValue.Dispose();
    }
}

/// <summary>
/// Loads a Spin application, the one code path of <c>spindle up</c> (<see cref="SpindleHost"/>) and of
/// <see cref="SpinApplicationEndpoints.MapSpinApplication(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder, string, Action{SpinApplicationOptions}?)"/>:
/// 1. opens its SQLite databases and runs the startup statements; 2. opens its key-value stores and seeds the default one;
/// 3. resolves variables (given values, then <c>SPIN_VARIABLE_*</c>, then defaults); 4. creates the executors.
/// Every failure is a <see cref="SpindleStartupException"/> in one line, with nothing left open.
/// </summary>
internal static class SpinApplicationLoader
{
    public static async Task<LoadedSpinApplication> LoadAsync(SpinApplicationLoad load, ILoggerFactory logging)
    {
        var app = load.App;
        KeyValueStores? keyValue = null;
        SqliteDatabases sqlite;
        try
        {
            sqlite = SqliteDatabases.Open(app, load.RuntimeConfig, load.StateDirectory);
            sqlite.RunStartupStatements(load.SqliteStatements, Environment.CurrentDirectory);
            keyValue = await KeyValueStores.OpenAsync(app, load.RuntimeConfig, load.StateDirectory, openDefault: load.KeyValueSeeds.Count > 0);
            await keyValue.SeedDefaultAsync(load.KeyValueSeeds);
        }
        catch (Exception e) when (e is KeyValueConfigurationException or KeyValueException or SqliteConfigurationException)
        {
            keyValue?.Dispose();
            throw new SpindleStartupException(e.Message, e);
        }
        try
        {
            var providers = new List<IVariableProvider> { new StaticVariableProvider(load.Variables) };
            if (load.EnvironmentVariables is { } env) providers.Add(new EnvironmentVariableProvider(env));
            var variables = VariableResolver.Create(app, providers);
            var outbound = OutboundHttpOptionsMapping.FromRuntimeConfig(load.RuntimeConfig, load.OutboundH2cPriorKnowledge, load.Server.MaxChainDepth);
            var spin = SpinHttpApplication.Create(app, variables, load.Executors, logging, new SpinHttpTriggerOptions
            {
                RequestTimeout = load.Server.RequestTimeout,
                QuietComponentOutput = load.Quiet,
                InstanceReuse = load.Server.InstanceReuse,
                Admission = load.Server.Admission,
                Outbound = load.ConfigureOutbound?.Invoke(outbound) ?? outbound,
                State = new ApplicationState(keyValue, sqlite),
            });
            return new LoadedSpinApplication(spin, keyValue);
        }
        catch (Exception e) when (e is ManifestException or VariableException or ExecutorCreationException)
        {
            keyValue.Dispose();
            throw new SpindleStartupException(e.Message, e);
        }
    }
}
