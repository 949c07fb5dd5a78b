using System.Diagnostics;
using System.Net;
using Spindle.Engine;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Executors.WasiHttp;
using Spindle.Trigger.Http.Server;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Server;

/// <summary>
/// Overload against real components on real Kestrel: a flood of CPU-bound requests on one component is refused
/// early with 503 while another component of the same app keeps answering fast, and the memory a burst of
/// requests took is given back once its instances are trimmed. Alone in their collection: they load both cores
/// and measure the process's memory.
/// </summary>
[Collection(nameof(OverloadTests))]
public sealed class OverloadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_flooded_component_gets_503s_in_time_while_another_keeps_answering_fast()
    {
        using var wasm = new SpindleEngine(AdmissionTests.SmallPool(256), hotLane: AdmissionTests.HotPool(256));
        var admission = new AdmissionOptions { QueueLimit = 8, QueueTimeout = TimeSpan.FromMilliseconds(500), RunningPerComponent = 2 };
        await using var server = await ComponentServer.StartAppAsync(wasm, admission, $"""
            spin_manifest_version = 2
            [application]
            name = "overload"
            [[trigger.http]]
            route = "/busy"
            component = "busy"
            [[trigger.http]]
            route = "/hello"
            component = "hello"
            [component.busy]
            source = '{Paths.Fixture("wat/http-loop.wasm")}'
            [component.hello]
            source = '{Paths.Fixture("wat/http-hello.wasm")}'
            """, TimeSpan.FromSeconds(2), Ct);

        // 40 requests that would each compute forever (stopped by the 2 s timeout): 2 run, 8 wait, 30 are refused.
        async Task<(HttpStatusCode Status, TimeSpan Took, string? RetryAfter)> Busy()
        {
            var watch = Stopwatch.StartNew();
            using var response = await server.Client.GetAsync("/busy", Ct);
            return (response.StatusCode, watch.Elapsed, response.Headers.RetryAfter?.ToString());
        }
        var flood = Enumerable.Range(0, 40).Select(_ => Busy()).ToArray();

        var latencies = new List<TimeSpan>();
        while (!flood.All(t => t.IsCompleted) && latencies.Count < 200)
        {
            var watch = Stopwatch.StartNew();
            Assert.Equal("Hello, world!\n", await server.Client.GetStringAsync("/hello", Ct));
            latencies.Add(watch.Elapsed);
        }
        var busy = await Task.WhenAll(flood);

        Assert.All(busy, r => Assert.True(r.Status is HttpStatusCode.InternalServerError or HttpStatusCode.ServiceUnavailable, $"busy: {r.Status}"));
        var refused = busy.Where(r => r.Status == HttpStatusCode.ServiceUnavailable).ToArray();
        Assert.InRange(refused.Length, 30, 38);
        Assert.All(refused, r => Assert.Equal("1", r.RetryAfter));
        // Refused within the queue timeout (500 ms) plus generous slack for 2 busy cores, never after a guest's 2 s.
        Assert.All(refused, r => Assert.True(r.Took < TimeSpan.FromSeconds(1.5), $"a 503 took {r.Took}"));

        Assert.True(latencies.Count >= 5, $"only {latencies.Count} hellos while the flood lasted");
        latencies.Sort();
        var p95 = latencies[(int)(latencies.Count * 0.95)];
        Assert.True(p95 < TimeSpan.FromMilliseconds(250), $"hello p95 {p95.TotalMilliseconds:0} ms over {latencies.Count} requests while the other component was flooded");
    }

    [Fact]
    public async Task Memory_taken_by_a_burst_of_instances_is_returned_after_they_are_trimmed()
    {
        using var wasm = new SpindleEngine(AdmissionTests.SmallPool(64), hotLane: AdmissionTests.HotPool(1024),
            hotLaneTrimInterval: Timeout.InfiniteTimeSpan);
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), Ct);
        Assert.Equal("slept\n", await server.Client.GetStringAsync("/", Ct));
        var before = ResidentBytes();

        // 150 requests of 100 ms at once: about as many JavaScript instances, each with its own written pages.
        var burst = await server.FireAsync(150, Ct);
        Assert.All(burst, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in burst) r.Dispose();
        var instances = ((WasiHttpExecutor)server.Executor).HotInstances!;
        Assert.True(instances.Idle >= 50, $"{instances.Idle} idle instances after the burst");
        var peak = ResidentBytes();

        wasm.HotLane!.Trim(); // marks the low-water point: every idle instance stayed idle since
        wasm.HotLane.Trim();
        Assert.Equal(0, instances.Idle);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var after = ResidentBytes();

        var grew = peak - before;
        Assert.True(grew > 100L << 20, $"the burst grew the process by only {grew >> 20} MiB (before {before >> 20}, peak {peak >> 20})");
        Assert.True(after - before < grew / 4,
            $"after trimming the process still holds {(after - before) >> 20} of the {grew >> 20} MiB the burst took (before {before >> 20}, peak {peak >> 20}, after {after >> 20} MiB)");

        // And the component still serves.
        Assert.Equal("slept\n", await server.Client.GetStringAsync("/", Ct));
    }

    private static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }
}

[CollectionDefinition(nameof(OverloadTests), DisableParallelization = true)]
public sealed class OverloadTestsCollection;
