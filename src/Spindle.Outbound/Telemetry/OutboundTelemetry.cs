using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Spindle.Wasi.Http;

namespace Spindle.Outbound.Telemetry;

/// <summary>
/// The outbound layer's traces and metrics: ActivitySource and Meter <c>Spindle.Outbound</c> (export them with
/// <c>AddSource("Spindle.*")</c> / <c>AddMeter("Spindle.*")</c>). One client span per guest request (a network
/// request, a self-request or a <c>*.spin.internal</c> chained call), named by its method as OpenTelemetry's HTTP
/// conventions ask, and two instruments:
/// <list type="bullet">
/// <item><c>http.client.request.duration</c> (s): until the response head arrived or the request failed;
///   <c>http.request.method</c>, <c>server.address</c>, <c>server.port</c>, <c>url.scheme</c>,
///   <c>http.response.status_code</c> or <c>error.type</c> (the wasi:http <c>error-code</c> case), <c>spindle.component.id</c>.</item>
/// <item><c>spindle.outbound.requests</c> ({request}): <c>server.address</c>, <c>spindle.outbound.outcome</c>
///   (the status class such as <c>2xx</c>, or the <c>error-code</c> case such as <c>HTTP-request-denied</c>),
///   <c>spindle.component.id</c>.</item>
/// </list>
/// Nothing listens: <see cref="Enabled"/> is false and the dispatcher takes its untraced path (no allocation).
/// </summary>
public static class OutboundTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "Spindle.Outbound";

    /// <summary>The W3C trace context headers, replaced by the outbound span's when there is one.</summary>
    public const string TraceParent = "traceparent", TraceState = "tracestate";

    internal static readonly ActivitySource Source = new(Name);
    internal static readonly Meter Meter = new(Name);

    /// <summary>OpenTelemetry's advised buckets for HTTP durations (seconds).</summary>
    public static readonly IReadOnlyList<double> DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    internal static readonly Histogram<double> Duration = Meter.CreateHistogram("http.client.request.duration", "s",
        "Duration of the guests' outbound HTTP requests (until the response head)", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    internal static readonly Counter<long> Requests = Meter.CreateCounter<long>("spindle.outbound.requests", "{request}",
        "Outbound HTTP requests of the guests, by host and outcome");

    /// <summary>Whether anything listens (a span would be recorded or an instrument measured).</summary>
    internal static bool Enabled => Source.HasListeners() || Duration.Enabled || Requests.Enabled;

    /// <summary>The status class of a status code: <c>2xx</c>...</summary>
    public static string StatusClass(int status) => status switch
    {
        >= 100 and < 200 => "1xx", < 300 and >= 200 => "2xx", < 400 and >= 300 => "3xx", < 500 and >= 400 => "4xx", < 600 and >= 500 => "5xx", _ => "other",
    };

    /// <summary>What <c>error.type</c> says of a failure: the wasi:http <c>error-code</c> case, else the exception type.</summary>
    public static string ErrorType(Exception e) =>
        e is HttpErrorCodeException code ? HttpErrorCode.NameOf(code.Code) : e is OperationCanceledException ? "canceled" : e.GetType().FullName ?? "error";

    /// <summary>
    /// Sets the W3C <c>traceparent</c> (and <c>tracestate</c>) of <paramref name="activity"/> on a request about to
    /// leave, replacing any the guest set: the upstream continues the outbound span, which itself continues the
    /// inbound request (the guest's own value could only name the client's span, already an ancestor).
    /// </summary>
    public static void Inject(Activity activity, HttpRequestMessage message)
    {
        message.Headers.Remove(TraceParent);
        message.Headers.Remove(TraceState);
        DistributedContextPropagator.Current.Inject(activity, message.Headers, static (carrier, key, value) =>
        {
            if (carrier is System.Net.Http.Headers.HttpRequestHeaders headers && value is not null)
                headers.TryAddWithoutValidation(key, value);
        });
    }

    /// <summary>As <see cref="Inject(Activity, HttpRequestMessage)"/>, for an in-memory (chained) request's headers.</summary>
    public static void Inject(Activity activity, IHeaderDictionary headers)
    {
        headers.Remove(TraceParent);
        headers.Remove(TraceState);
        DistributedContextPropagator.Current.Inject(activity, headers, static (carrier, key, value) =>
        {
            if (carrier is IHeaderDictionary h && value is not null)
                h[key] = value;
        });
    }

    /// <summary>The span of an outbound call in progress (the current activity when it is one of ours), else null.</summary>
    public static Activity? CurrentClientSpan => Activity.Current is { } a && ReferenceEquals(a.Source, Source) ? a : null;
}
