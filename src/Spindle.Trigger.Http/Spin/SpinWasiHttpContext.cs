using Spindle.App.Variables;
using Spindle.Wasi.Http;

namespace Spindle.Trigger.Http.Spin;

/// <summary>The per-request store data of a Spin HTTP component: the wasi:http state plus its Spin variables.</summary>
public sealed class SpinWasiHttpContext : WasiHttpContext, ISpinVariablesContext
{
    /// <inheritdoc />
    public VariableResolver? Variables { get; init; }
}
