using Microsoft.Extensions.Logging;

namespace Spindle.Trigger.Http;

/// <summary>
/// The HTTP trigger's log messages (source-generated). Event ids: 1000 is the guest output line
/// (<c>Spindle.Wasi.GuestOutput</c>); 1100–1199 the application and the request pipeline; 1200–1219 the
/// wasi:http executor, 1220–1239 the first-generation Spin executor, 1240–1259 Wagi. Outbound uses 2000–2099
/// (<c>Spindle.Outbound.OutboundLog</c>), the host 3000–3099 (<c>Spindle.Hosting.HostingLog</c>).
/// </summary>
internal static partial class TriggerLog
{
    // The request pipeline (Server/).
    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Request for {Path} has no Host header; closing the connection")]
    public static partial void NoHostHeader(this ILogger logger, string path);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Request for {Path}: Content-Length {Length} is over the {Limit}-byte request body limit; answering 413")]
    public static partial void BodyTooLarge(this ILogger logger, string path, long? length, long limit);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Debug, Message = "Component '{Component}': no room in time, answering 503")]
    public static partial void AdmissionRefused(this ILogger logger, string component);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "Component '{Component}' exceeded the request timeout")]
    public static partial void RequestTimedOut(this ILogger logger, string component);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "Component '{Component}' failed")]
    public static partial void ComponentFailed(this ILogger logger, Exception exception, string component);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Service chaining to '{Component}': no such HTTP component in the application")]
    public static partial void NoChainTarget(this ILogger logger, string component);

    // The application (SpinHttpApplication).
    [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "{Warning}")]
    public static partial void ManifestWarning(this ILogger logger, string warning);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Error, Message = "The following component routes are duplicates and will never be used: {Duplicates}")]
    public static partial void DuplicateRoutes(this ILogger logger, string duplicates);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Error, Message = "Route '{Route}' of '{Target}' is under the reserved /.well-known/spin/ prefix and will never be reached")]
    public static partial void ReservedRoute(this ILogger logger, string route, string target);

    // wasi:http (Executors/WasiHttp/).
    [LoggerMessage(EventId = 1200, Level = LogLevel.Debug, Message = "Component {ComponentId} gets a fresh instance per request: {Reason}")]
    public static partial void FreshInstancePerRequest(this ILogger logger, string componentId, string reason);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "Component {ComponentId} failed ({Request}): no instance was free before its deadline")]
    public static partial void NoInstanceInTime(this ILogger logger, string componentId, string request);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Debug, Message = "Component {ComponentId} exited")]
    public static partial void GuestExited(this ILogger logger, Exception exception, string componentId);

    /// <summary>The one line for a failed guest call (wasi:http and first-generation Spin components).</summary>
    [LoggerMessage(EventId = 1203, Level = LogLevel.Error, Message = "Component {ComponentId} failed ({Request}{When}): {Error}")]
    public static partial void GuestFailed(this ILogger logger, string componentId, string request, string when, string error);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "Component {ComponentId} ({Request}): the request body could not be read ({Reason}); answering {Status}")]
    public static partial void RequestBodyUnreadable(this ILogger logger, string componentId, string request, string reason, int status);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Error, Message = "Component {ComponentId} ({Request}) returned without setting a response{Error}")]
    public static partial void NoResponseSet(this ILogger logger, string componentId, string request, string error);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Debug, Message = "Component {ComponentId} returned without finishing its response body")]
    public static partial void BodyUnfinished(this ILogger logger, string componentId);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Error, Message = "Component {ComponentId} set a response Kestrel cannot send")]
    public static partial void ResponseRejected(this ILogger logger, Exception exception, string componentId);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Error, Message = "Component {ComponentId} set a response Kestrel cannot send: {Reason}")]
    public static partial void ResponseInvalid(this ILogger logger, string componentId, string reason);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Warning, Message = "Component {ComponentId}: response body aborted: {Reason}")]
    public static partial void ResponseBodyAborted(this ILogger logger, string componentId, string reason);

    // First-generation Spin components (Executors/SpinInbound/).
    [LoggerMessage(EventId = 1220, Level = LogLevel.Warning, Message = "Component {ComponentId}: the request body could not be read ({Request}): {Error}")]
    public static partial void SpinRequestBodyUnreadable(this ILogger logger, string componentId, string request, string error);

    [LoggerMessage(EventId = 1221, Level = LogLevel.Error, Message = "Component {ComponentId} failed ({Request}): {Problem}")]
    public static partial void SpinInvalidResponse(this ILogger logger, string componentId, string request, string problem);

    // Wagi (Executors/Wagi/).
    [LoggerMessage(EventId = 1240, Level = LogLevel.Error, Message = "Wagi component {Component} failed after its response started ({Reason}); aborting the response ({Request})")]
    public static partial void WagiFailedAfterStart(this ILogger logger, string component, string reason, string request);

    [LoggerMessage(EventId = 1241, Level = LogLevel.Warning, Message = "Wagi component {Component}: {Reason}; answering {Status} ({Request})")]
    public static partial void WagiClientError(this ILogger logger, string component, string reason, int status, string request);

    [LoggerMessage(EventId = 1242, Level = LogLevel.Error, Message = "Wagi component {Component} failed: {Reason} ({Request})")]
    public static partial void WagiFailed(this ILogger logger, string component, string reason, string request);

    [LoggerMessage(EventId = 1243, Level = LogLevel.Error, Message = "Wagi component {Component} produced invalid output: {Reason} ({Request})")]
    public static partial void WagiInvalidOutput(this ILogger logger, string component, string reason, string request);

    [LoggerMessage(EventId = 1244, Level = LogLevel.Error, Message = "Wagi component {Component} wrote nothing to stdout ({Request})")]
    public static partial void WagiNoOutput(this ILogger logger, string component, string request);

    [LoggerMessage(EventId = 1245, Level = LogLevel.Error, Message = "Wagi component {Component} output has no blank line ending the headers ({Request})")]
    public static partial void WagiNoHeaderEnd(this ILogger logger, string component, string request);

    [LoggerMessage(EventId = 1190, Level = LogLevel.Information, Message = "{Component}: {Message}")]
    public static partial void CompileProgress(this ILogger logger, string component, string message);
}
