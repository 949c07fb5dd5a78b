using Microsoft.Extensions.Logging;

namespace Spindle.Outbound;

/// <summary>The outbound layer's log messages (source-generated), event ids 2000–2099 (ranges: <c>Spindle.Trigger.Http.TriggerLog</c>).</summary>
internal static partial class OutboundLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Warning, Message = "Component '{Component}': service chain to '{Callee}' stopped at {Depth} hops (loop?)")]
    public static partial void ChainTooDeep(this ILogger logger, string component, string callee, int depth);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Component '{Component}' may not send a request to {Url}: not allowed by its allowed_outbound_hosts")]
    public static partial void RequestDenied(this ILogger logger, string component, string url);
}
