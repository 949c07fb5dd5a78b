namespace Spindle.Components.Binary;

/// <summary>What a component binary declares at its top level, read without binding or compiling anything.</summary>
public sealed class ComponentSummary
{
    private ComponentSummary(string[] imports, string[] exports, int coreModules, int nestedComponents, int canonDefinitions)
    {
        Imports = imports;
        Exports = exports;
        CoreModules = coreModules;
        NestedComponents = nestedComponents;
        CanonDefinitions = canonDefinitions;
    }

    /// <summary>Top-level import names (<c>wasi:io/streams@0.2.3</c>).</summary>
    public IReadOnlyList<string> Imports { get; }

    /// <summary>Top-level export names (<c>wasi:http/incoming-handler@0.2.3</c>).</summary>
    public IReadOnlyList<string> Exports { get; }

    /// <summary>Core modules, counted through every nesting level.</summary>
    public int CoreModules { get; }

    /// <summary>Nested component definitions, counted through every nesting level.</summary>
    public int NestedComponents { get; }

    /// <summary>canon definitions (lift, lower, resource built-ins), counted through every nesting level.</summary>
    public int CanonDefinitions { get; }

    internal static ComponentSummary Read(ReadOnlyMemory<byte> bytes)
    {
        var ast = ComponentParser.Parse(bytes);
        int modules = 0, nested = 0, canon = 0;
        Count(ast);
        return new ComponentSummary(
            ast.Definitions.OfType<ImportDef>().Select(i => i.Name).ToArray(),
            ast.Definitions.OfType<ExportDef>().Select(e => e.Name).ToArray(),
            modules, nested, canon);

        void Count(ComponentAst a)
        {
            foreach (var d in a.Definitions)
            {
                switch (d)
                {
                    case CoreModuleDef: modules++; break;
                    case CanonDef: canon++; break;
                    case NestedComponentDef n: nested++; Count(n.Component); break;
                }
            }
        }
    }
}
