namespace Spindle.Hosting;

/// <summary>Marks the Spindle.Hosting assembly.</summary>
internal static class AssemblyMarker { }
