namespace Spindle.Wasmtime;

/// <summary>Marks the Spindle.Wasmtime assembly.</summary>
internal static class AssemblyMarker { }
