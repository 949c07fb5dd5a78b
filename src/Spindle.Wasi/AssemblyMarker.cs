namespace Spindle.Wasi;

/// <summary>Marks the Spindle.Wasi assembly.</summary>
internal static class AssemblyMarker { }
