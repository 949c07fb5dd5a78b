namespace Spindle.Trigger.Http;

/// <summary>Marks the Spindle.Trigger.Http assembly.</summary>
internal static class AssemblyMarker { }
