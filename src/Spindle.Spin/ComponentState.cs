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
