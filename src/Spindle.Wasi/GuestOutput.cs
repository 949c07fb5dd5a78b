using Microsoft.Extensions.Logging;

namespace Spindle.Wasi;

/// <summary>
/// How a guest's stdout and stderr lines are logged, by every host (WASI 0.2, preview1, Wagi's stderr): one event,
/// <c>GuestOutput</c> (id 1000), with the component id, the stream and the line as its values, under a category of
/// its own per component (<see cref="Category"/>). Hosts route them apart from their own messages by that
/// category: per-component files, a console that follows only some components.
/// </summary>
public static partial class GuestOutput
{
    /// <summary>What every guest output category starts with; the component id follows.</summary>
    public const string CategoryPrefix = "Spindle.GuestOutput.";

    /// <summary>The logger category of <paramref name="componentId"/>'s output.</summary>
    public static string Category(string componentId) => CategoryPrefix + componentId;

    /// <summary>The event id of every guest output line.</summary>
    public const int EventId = 1000;

    /// <summary>Logs one line of <paramref name="stream"/> (<c>stdout</c> or <c>stderr</c>).</summary>
    [LoggerMessage(EventId = EventId, EventName = "GuestOutput", Message = "[{ComponentId} {Stream}] {Line}")]
    public static partial void Line(ILogger logger, LogLevel level, string componentId, string stream, string line);

    /// <summary>The level of a stream's lines: stderr is a warning, stdout information.</summary>
    public static LogLevel LevelOf(string stream) => stream == "stderr" ? LogLevel.Warning : LogLevel.Information;
}
