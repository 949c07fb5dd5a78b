using Microsoft.Extensions.Logging;

namespace Spindle.Hosting;

/// <summary>The host's log messages (source-generated), event ids 3000–3099 (ranges: <c>Spindle.Trigger.Http.TriggerLog</c>).</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Key-value store {Store}")]
    public static partial void KeyValueStore(this ILogger logger, string store);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Spin application {Application} ({Manifest}) loaded")]
    public static partial void ApplicationLoaded(this ILogger logger, string application, string manifest);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Error, Message = "Spin application {Manifest} cannot be served: {Error}")]
    public static partial void ApplicationFailed(this ILogger logger, string manifest, string error);
}
