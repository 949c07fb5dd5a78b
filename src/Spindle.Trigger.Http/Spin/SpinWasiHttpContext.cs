using Spindle.App.Variables;
using Spindle.Outbound.Http;
using Spindle.Spin.KeyValue;
using Spindle.Spin.Sqlite;
using Spindle.Wasi.Http;

namespace Spindle.Trigger.Http.Spin;

/// <summary>
/// The per-request store data of a Spin HTTP component: the wasi:http state plus its Spin variables, key-value stores, SQLite databases and what the
/// outbound dispatcher needs to know about the request being served.
/// </summary>
public sealed class SpinWasiHttpContext : WasiHttpContext, ISpinVariablesContext, IKeyValueContext, ISqliteContext, IOutboundCaller
{
    /// <inheritdoc />
    public ComponentSqlite? Sqlite { get; init; }

    /// <inheritdoc />
    public ComponentKeyValue? KeyValue { get; init; }

    /// <inheritdoc />
    public VariableResolver? Variables { get; init; }

    /// <inheritdoc />
    public string? InboundScheme { get; init; }

    /// <inheritdoc />
    public int ChainDepth { get; init; }
}
