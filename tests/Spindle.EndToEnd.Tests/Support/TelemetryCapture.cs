using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>
/// Listens to Spindle's ActivitySources and Meters (<c>Spindle.*</c>) in process. Listeners are process-wide and
/// other tests run in parallel: spans are kept only for the trace ids a test registers (<see cref="Trace"/>),
/// measurements only for the component ids given (tag <c>spindle.component.id</c>).
/// </summary>
public sealed class TelemetryCapture : IDisposable
{
    private readonly ConcurrentDictionary<ActivityTraceId, byte> _traces = new();
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ConcurrentDictionary<Activity, SpanStart> _starts = new();
    private readonly ConcurrentQueue<Measurement> _measurements = new();
    private readonly HashSet<string> _components;
    private readonly ActivityListener _activities;
    private readonly MeterListener _meters;

    /// <summary>One measurement of an instrument, with its tags.</summary>
    public sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
    {
        /// <summary>A tag's value as text (null when absent).</summary>
        public string? Tag(string name) => Tags.TryGetValue(name, out var v) ? Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Where a span started: the thread, whether on a guest's fiber, and the managed stack (types of its frames' methods).</summary>
    public sealed record SpanStart(int Thread, bool InsideGuest, IReadOnlyList<string> Frames);

    public TelemetryCapture(params string[] componentIds)
    {
        _components = [.. componentIds];
        _activities = new ActivityListener
        {
            ShouldListenTo = s => s.Name.StartsWith("Spindle.", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = a =>
            {
                if (_traces.ContainsKey(a.TraceId))
                    _starts[a] = new SpanStart(Environment.CurrentManagedThreadId, Spindle.Wasmtime.AfterPoll.InsideGuest,
                        new StackTrace(false).GetFrames().Select(f => f.GetMethod()?.DeclaringType?.FullName ?? "").ToList());
            },
            ActivityStopped = a =>
            {
                if (_traces.ContainsKey(a.TraceId)) _spans.Enqueue(a);
            },
        };
        ActivitySource.AddActivityListener(_activities);
        _meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name.StartsWith("Spindle.", StringComparison.Ordinal)) listener.EnableMeasurementEvents(instrument);
            },
        };
        _meters.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _meters.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _meters.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _meters.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dict = new Dictionary<string, object?>();
        foreach (var t in tags) dict[t.Key] = t.Value;
        var component = dict.TryGetValue("spindle.component.id", out var c) ? c as string : null;
        // Observable instruments (no component) are kept too: the test asks for them by name.
        if (component is null ? instrument.IsObservable : _components.Contains(component))
            _measurements.Enqueue(new Measurement(instrument.Name, value, dict));
    }

    /// <summary>A new W3C trace context (sampled) whose spans are kept: the <c>traceparent</c> to send, its trace and span id.</summary>
    public (string TraceParent, ActivityTraceId TraceId, ActivitySpanId SpanId) Trace()
    {
        var traceId = ActivityTraceId.CreateRandom();
        var spanId = ActivitySpanId.CreateRandom();
        _traces[traceId] = 0;
        return ($"00-{traceId}-{spanId}-01", traceId, spanId);
    }

    /// <summary>The spans of <paramref name="traceId"/> ended so far.</summary>
    public IReadOnlyList<Activity> Spans(ActivityTraceId traceId) => _spans.Where(a => a.TraceId == traceId).ToList();

    /// <summary>Where <paramref name="span"/> (of a registered trace) started.</summary>
    public SpanStart StartOf(Activity span) => _starts[span];

    /// <summary>The measurements of <paramref name="instrument"/> so far (observable ones: after <see cref="Observe"/>).</summary>
    public IReadOnlyList<Measurement> Of(string instrument) => _measurements.Where(m => m.Instrument == instrument).ToList();

    /// <summary>Takes one reading of the observable instruments.</summary>
    public void Observe() => _meters.RecordObservableInstruments();

    /// <summary>Waits until <paramref name="done"/> holds (checked every 50 ms), failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        while (!done())
        {
            if (deadline.Elapsed > (timeout ?? TimeSpan.FromSeconds(30)))
                throw new Xunit.Sdk.XunitException("timed out waiting for " + what);
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    public void Dispose()
    {
        _activities.Dispose();
        _meters.Dispose();
    }
}
