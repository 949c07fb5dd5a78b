namespace Spindle.Outbound;

/// <summary>Marks the Spindle.Outbound assembly.</summary>
internal static class AssemblyMarker { }
