using Microsoft.Extensions.Logging;

namespace Spindle.Hosting;

/// <summary>The host's log messages (source-generated), event ids 3000–3099 (ranges: <c>Spindle.Trigger.Http.TriggerLog</c>).</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Key-value store {Store}")]
    public static partial void KeyValueStore(this ILogger logger, string store);
}
