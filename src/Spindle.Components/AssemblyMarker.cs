namespace Spindle.Components;

/// <summary>Marks the Spindle.Components assembly.</summary>
internal static class AssemblyMarker { }
