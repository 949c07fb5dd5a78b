using System.Diagnostics.Metrics;
using System.Net;
using Spindle.Engine;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Server;

/// <summary>
/// <c>spindle.admission.rejected</c> counts exactly the 503s admission control answered, by component (a pool with
/// room for one JS request at a time and no queue). Measurements of other tests' components are ignored.
/// </summary>
public sealed class AdmissionMetricsTests
{
    [Fact]
    public async Task Every_503_from_admission_is_counted_for_its_component()
    {
        var ct = TestContext.Current.CancellationToken;
        long rejected = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Spindle.Trigger.Http" && instrument.Name == "spindle.admission.rejected") l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "spindle.component.id" && (string?)tag.Value == "tel-busy")
                    Interlocked.Add(ref rejected, value);
        });
        listener.Start();

        using var wasm = new SpindleEngine(AdmissionTests.SmallPool(4));
        await using var server = await ComponentServer.StartAppAsync(wasm, new AdmissionOptions { QueueLimit = 0 }, $"""
            spin_manifest_version = 2
            [application]
            name = "admission-metrics"
            [[trigger.http]]
            route = "/..."
            component = "tel-busy"
            [component.tel-busy]
            source = '{Paths.Fixture("js/sleep.wasm")}'
            """, null, ct);

        var responses = await server.FireAsync(12, ct);
        var refused = responses.Count(r => r.StatusCode == HttpStatusCode.ServiceUnavailable);
        foreach (var r in responses) r.Dispose();
        Assert.InRange(refused, 1, 11);
        Assert.Equal(refused, Interlocked.Read(ref rejected));
    }
}
