using Spindle.Components.Abi;
using Spindle.Components.Planning;
using Spindle.Components.Types;

namespace Spindle.Components.Runtime;

/// <summary>A function a component exports, with its lift/lower plan (computed once at load).</summary>
public sealed class ComponentExport
{
    internal ComponentExport(string interfaceName, string name, LiftedFunc lifted, FuncAbi abi)
    {
        InterfaceName = interfaceName;
        Name = name;
        Lifted = lifted;
        Abi = abi;
        CoreResultCount = abi.CoreResults(lowered: false).Length;
    }

    /// <summary>The exported interface as the component names it (<c>wasi:http/incoming-handler@0.2.3</c>), or "" for a top-level function.</summary>
    public string InterfaceName { get; }

    /// <summary>The function name (<c>handle</c>).</summary>
    public string Name { get; }

    /// <summary>The component-level function type.</summary>
    public FuncType Type => Lifted.Type;

    internal LiftedFunc Lifted { get; }
    internal FuncAbi Abi { get; }
    internal int CoreResultCount { get; }

    // Built once: every call names its export in the call context (printing the type per request cost ~1% of a WAT hello).
    private string? _display;

    /// <inheritdoc />
    public override string ToString() => _display ??=
        InterfaceName.Length == 0 ? $"{Name}: {TypePrinter.Print(Type)}" : $"{InterfaceName}#{Name}: {TypePrinter.Print(Type)}";
}
