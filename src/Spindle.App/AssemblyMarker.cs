namespace Spindle.App;

/// <summary>Marks the Spindle.App assembly.</summary>
internal static class AssemblyMarker { }
