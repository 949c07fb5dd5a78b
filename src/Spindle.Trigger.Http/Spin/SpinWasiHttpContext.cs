using Spindle.App.Variables;
using Spindle.Outbound.Http;
using Spindle.Spin.KeyValue;
using Spindle.Spin.Legacy;
using Spindle.Spin.Sqlite;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview1;

namespace Spindle.Trigger.Http.Spin;

/// <summary>
/// The per-request store data of a Spin HTTP component: the wasi:http state plus its Spin variables, key-value stores, SQLite databases and what the
/// outbound dispatcher needs to know about the request being served. A first-generation Spin module also gets its
/// WASI preview1 state and the table of the numbered handles its interfaces give out.
/// </summary>
public sealed class SpinWasiHttpContext : WasiHttpContext, ISpinVariablesContext, IKeyValueContext, ISqliteContext, IOutboundCaller,
    ILegacyHandlesContext, IWasiPreview1State
{
    private LegacyHandles? _legacyHandles;
    private readonly WasiPreview1Context? _preview1;

    /// <inheritdoc />
    public LegacyHandles LegacyHandles => _legacyHandles ??= new();

    /// <summary>The WASI preview1 state of a core module (null for components).</summary>
    public WasiPreview1Context? Preview1 { get => _preview1; init => _preview1 = value; }

    WasiPreview1Context IWasiPreview1State.Wasi => _preview1 ?? throw new InvalidOperationException("this component has no WASI preview1 state");

    /// <inheritdoc />
    public override void Dispose()
    {
        _legacyHandles?.Dispose();
        _preview1?.Dispose();
        base.Dispose();
    }

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
