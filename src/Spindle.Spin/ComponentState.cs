using Spindle.App.Model;
using Spindle.App.RuntimeConfiguration;
using Spindle.Spin.KeyValue;
using Spindle.Spin.Sqlite;

namespace Spindle.Spin;

/// <summary>The state one component may reach: the key-value stores and SQLite databases its manifest lists.</summary>
/// <param name="KeyValue">Its key-value stores (null: none can be opened).</param>
/// <param name="Sqlite">Its SQLite databases (null: none can be opened).</param>
public sealed record ComponentState(ComponentKeyValue? KeyValue, ComponentSqlite? Sqlite);

/// <summary>An application's state: key-value stores and SQLite databases, set up once from the manifest and runtime config.</summary>
/// <param name="KeyValue">The key-value stores.</param>
/// <param name="Sqlite">The SQLite databases.</param>
public sealed record ApplicationState(KeyValueStores? KeyValue, SqliteDatabases? Sqlite)
{
    /// <summary>What <paramref name="componentId"/> may reach.</summary>
    public ComponentState ForComponent(string componentId) => new(KeyValue?.ForComponent(componentId), Sqlite?.ForComponent(componentId));
}

/// <summary>Why a component could not open a key-value store or a SQLite database.</summary>
public enum StateOpenError
{
    /// <summary>It was opened.</summary>
    None,

    /// <summary>The component does not list the label (<c>key_value_stores</c>, <c>sqlite_databases</c>): <c>access-denied</c>, as in Spin.</summary>
    AccessDenied,

    /// <summary>The label is listed but nothing is mapped to it: <c>no-such-store</c> / <c>no-such-database</c>.</summary>
    NotFound,
}

/// <summary>Where an application's default state lives.</summary>
public static class StateDirectory
{
    /// <summary>
    /// <c>--state-dir</c> (<paramref name="fromCommandLine"/>), else the runtime config's <c>state_dir</c>, else
    /// <c>.spin</c> beside the manifest, as Spin chooses it.
    /// </summary>
    public static string Resolve(SpinApp app, RuntimeConfig config, string? fromCommandLine) =>
        fromCommandLine ?? config.StateDirectory ?? Path.Combine(app.AppDirectory, ".spin");
}
