using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Spindle.Outbound.Telemetry;

namespace Spindle.Trigger.Http.Telemetry;

/// <summary>
/// The HTTP trigger's traces and metrics: ActivitySource and Meter <c>Spindle.Trigger.Http</c> (with
/// <c>Spindle.Outbound</c>'s, exported as <c>Spindle.*</c>).
/// <para>Spans: one server span per request routed to a component, <c>{method} {route}</c>, continuing the client's
/// <c>traceparent</c> (ASP.NET Core's request activity when it exists, else the header itself) or, for a chained
/// call, the caller's outbound span; a child <c>guest {component}</c> span for the guest call
/// (<c>spindle.instance.reused</c>; a trap or timeout sets error status and <c>error.type</c> <c>trap</c>/<c>timeout</c>).
/// Static responses, reserved routes and 404s get none.</para>
/// <para>Instruments: <c>http.server.request.duration</c> (s; <c>http.request.method</c>, <c>http.route</c>,
/// <c>http.response.status_code</c>, <c>url.scheme</c>, <c>error.type</c> for 5xx, <c>spindle.component.id</c>);
/// <c>spindle.requests</c> (<c>spindle.component.id</c>, <c>http.route</c>, <c>spindle.status_class</c>);
/// <c>spindle.guest.duration</c> (s; <c>spindle.component.id</c>); <c>spindle.guest.traps</c>,
/// <c>spindle.guest.timeouts</c>, <c>spindle.admission.rejected</c> (the 503s) by <c>spindle.component.id</c>;
/// <c>spindle.instances</c> (<c>spindle.component.id</c>, <c>spindle.instance.reused</c>: a warm instance reset
/// and reused, or a fresh one); <c>spindle.pool.instances.in_use</c> and <c>spindle.pool.instances.capacity</c>
/// (observed: core instances admitted requests hold in the engines' pools, and the pools' size).</para>
/// Nothing listens: no span is started, no tag list built, each instrument costs an <c>Enabled</c> check.
/// </summary>
public static class TriggerTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "Spindle.Trigger.Http";

    /// <summary>ASP.NET Core hosting's request activity (it continues the client's <c>traceparent</c> when it exists).</summary>
    private const string AspNetCoreRequestActivity = "Microsoft.AspNetCore.Hosting.HttpRequestIn";

    internal const string GuestSpanPrefix = "guest ";

    internal static readonly ActivitySource Source = new(Name);
    internal static readonly Meter Meter = new(Name);

    internal static readonly Histogram<double> RequestDuration = Meter.CreateHistogram("http.server.request.duration", "s",
        "Duration of the requests routed to components", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = OutboundTelemetry.DurationBuckets });

    internal static readonly Counter<long> Requests = Meter.CreateCounter<long>("spindle.requests", "{request}",
        "Requests routed to components, by component, route and status class");

    internal static readonly Histogram<double> GuestDuration = Meter.CreateHistogram("spindle.guest.duration", "s",
        "Duration of the guest calls (instantiation, call and response body)", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = OutboundTelemetry.DurationBuckets });

    internal static readonly Counter<long> Traps = Meter.CreateCounter<long>("spindle.guest.traps", "{trap}", "Guest calls that failed (trap, host fault)");

    internal static readonly Counter<long> Timeouts = Meter.CreateCounter<long>("spindle.guest.timeouts", "{timeout}", "Guest calls stopped at the request deadline");

    internal static readonly Counter<long> Rejected = Meter.CreateCounter<long>("spindle.admission.rejected", "{request}",
        "Requests answered 503 by admission control (queue full, queue timeout)");

    internal static readonly Counter<long> Instances = Meter.CreateCounter<long>("spindle.instances", "{instance}",
        "Component instances a request ran on: created fresh, or a warm one reset and reused");

    /// <summary>Whether the request path should trace or measure at all.</summary>
    internal static bool Enabled => Source.HasListeners() || RequestDuration.Enabled || Requests.Enabled;

    static TriggerTelemetry()
    {
        Meter.CreateObservableUpDownCounter("spindle.pool.instances.in_use", static () => Server.RequestAdmission.PoolInstancesInUse(), "{instance}",
            "Core instances held by admitted requests in the engines' instance pools");
        Meter.CreateObservableUpDownCounter("spindle.pool.instances.capacity", static () => Server.RequestAdmission.PoolInstancesCapacity(), "{instance}",
            "Core instances the engines' instance pools hold at most");
    }

    /// <summary>
    /// Starts the server span of a routed request. Parent: for a client's request, ASP.NET Core's request activity
    /// when it exists, else the request's own <c>traceparent</c>; for a chained call, the current activity (the
    /// caller's outbound span, also in the request's <c>traceparent</c>), else that header.
    /// </summary>
    internal static Activity? StartRequest(HttpContext context, string route, string componentId, int chainDepth)
    {
        var method = context.Request.Method;
        var current = Activity.Current;
        var useCurrent = current is not null && (chainDepth > 0 || current.OperationName == AspNetCoreRequestActivity);
        var parent = useCurrent ? current!.Context : Extract(context.Request.Headers);
        var activity = Source.StartActivity(ActivityKind.Server, parent, name: $"{method} {route}");
        if (activity is null) return null;
        if (activity.IsAllDataRequested)
        {
            activity.SetTag("http.request.method", method);
            activity.SetTag("http.route", route);
            activity.SetTag("url.scheme", context.Request.Scheme);
            activity.SetTag("url.path", context.Request.Path.Value);
            activity.SetTag("spindle.component.id", componentId);
            if (chainDepth > 0) activity.SetTag("spindle.chain.depth", chainDepth);
        }
        return activity;
    }

    /// <summary>Ends a request: status on the span, the request instruments.</summary>
    internal static void EndRequest(Activity? activity, HttpContext context, string route, string componentId, long startTimestamp)
    {
        var status = context.Response.StatusCode;
        var aborted = context.RequestAborted.IsCancellationRequested;
        string? error = status >= 500 ? status.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        if (activity is not null)
        {
            activity.SetTag("http.response.status_code", status);
            if (error is not null)
            {
                activity.SetTag("error.type", error);
                activity.SetStatus(ActivityStatusCode.Error);
            }
            activity.Dispose();
        }
        if (RequestDuration.Enabled)
        {
            var tags = new TagList
            {
                { "http.request.method", context.Request.Method }, { "http.route", route }, { "http.response.status_code", status },
                { "url.scheme", context.Request.Scheme }, { "spindle.component.id", componentId },
            };
            if (error is not null) tags.Add("error.type", error);
            else if (aborted) tags.Add("error.type", "aborted");
            RequestDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
        }
        if (Requests.Enabled)
            Requests.Add(1, new KeyValuePair<string, object?>("spindle.component.id", componentId), new KeyValuePair<string, object?>("http.route", route),
                new KeyValuePair<string, object?>("spindle.status_class", OutboundTelemetry.StatusClass(status)));
    }

    /// <summary>Starts the guest call's span (a child of the request's).</summary>
    internal static Activity? StartGuest(string componentId)
    {
        var activity = Source.StartActivity(GuestSpanPrefix + componentId, ActivityKind.Internal);
        activity?.SetTag("spindle.component.id", componentId);
        return activity;
    }

    /// <summary>The guest call's span, when the current activity is one.</summary>
    internal static Activity? CurrentGuest =>
        Activity.Current is { } a && ReferenceEquals(a.Source, Source) && a.Kind == ActivityKind.Internal ? a : null;

    /// <summary>An executor ran the request on a warm instance it reset (<paramref name="reused"/>) or on a fresh one.</summary>
    public static void InstanceUsed(string componentId, bool reused)
    {
        if (Source.HasListeners()) CurrentGuest?.SetTag("spindle.instance.reused", reused);
        if (Instances.Enabled)
            Instances.Add(1, new KeyValuePair<string, object?>("spindle.component.id", componentId), new KeyValuePair<string, object?>("spindle.instance.reused", reused));
    }

    /// <summary>
    /// An executor's guest call failed: at the request deadline (<paramref name="timedOut"/>), or by a trap or host
    /// fault. Marks the guest span as an error and counts it.
    /// </summary>
    public static void GuestFailed(string componentId, Exception? error, bool timedOut)
    {
        if (CurrentGuest is { } span)
        {
            span.SetTag("error.type", timedOut ? "timeout" : "trap");
            span.SetStatus(ActivityStatusCode.Error, error?.Message);
        }
        (timedOut ? Timeouts : Traps).Add(1, new KeyValuePair<string, object?>("spindle.component.id", componentId));
    }

    /// <summary>Admission control refused a request (503).</summary>
    internal static void Refused(string componentId) =>
        Rejected.Add(1, new KeyValuePair<string, object?>("spindle.component.id", componentId));

    private static ActivityContext Extract(IHeaderDictionary headers)
    {
        if (!headers.ContainsKey(OutboundTelemetry.TraceParent)) return default;
        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, static (object? carrier, string name, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            value = carrier is IHeaderDictionary h && h.TryGetValue(name, out var v) ? v.ToString() : null;
        }, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
    }
}
