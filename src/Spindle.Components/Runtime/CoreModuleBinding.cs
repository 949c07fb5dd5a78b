using Spindle.Components.Types;
using Spindle.Wasmtime;

namespace Spindle.Components.Runtime;

/// <summary>
/// How a core module that was built against component-model interfaces, but never wrapped in a component (the
/// modules of Spin's first SDKs), is given the lifting and lowering a component would declare for it
/// (<see cref="Component.LoadCoreModule"/>): which host function serves each import, which core exports are
/// lifted as which functions, and which canonical options (memory, realloc, post-return) they use.
/// </summary>
public sealed class CoreModuleBinding
{
    /// <summary>
    /// Maps a core import (module, name) to the host interface import name (<c>fermyon:spin/config</c>) and the
    /// function in it, or null when no interface serves it (the load then fails naming the import).
    /// </summary>
    public required Func<string, string, (string Interface, string Function)?> Import { get; init; }

    /// <summary>
    /// Core import modules the embedder defines itself, at the core level, with <see cref="DefineCoreHost"/>
    /// (for example <c>wasi_snapshot_preview1</c>, whose functions take raw pointers into the caller's memory).
    /// </summary>
    public IReadOnlySet<string> CoreHostModules { get; init; } = new HashSet<string>();

    /// <summary>Defines the functions of <see cref="CoreHostModules"/> on the module's linker (given the compiled module).</summary>
    public Action<WasmLinker, WasmModule>? DefineCoreHost { get; init; }

    /// <summary>The lifted exports. An entry whose core export is missing is skipped when <see cref="CoreModuleExport.Optional"/>.</summary>
    public required IReadOnlyList<CoreModuleExport> Exports { get; init; }

    /// <summary>The core export holding the module's linear memory (canon option <c>memory</c>).</summary>
    public string Memory { get; init; } = "memory";

    /// <summary>The core export of the module's allocator (canon option <c>realloc</c>), or null for none.</summary>
    public string? Realloc { get; init; }
}

/// <summary>A core export lifted as function <paramref name="Function"/> of interface <paramref name="Interface"/> ("" for a top-level function).</summary>
/// <param name="CoreName">The core export's name.</param>
/// <param name="Interface">The exported interface name, or "".</param>
/// <param name="Function">The function's name.</param>
/// <param name="Type">Its component-level type.</param>
/// <param name="PostReturn">The core export called after the results were read (canon option <c>post-return</c>), or null.</param>
/// <param name="Optional">When true and the module lacks the export, it is not an error.</param>
public sealed record CoreModuleExport(string CoreName, string Interface, string Function, FuncType Type, string? PostReturn = null, bool Optional = false);
