using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spindle.Engine;
using Spindle.App.Manifest;
using Spindle.App.Variables;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Executors.WasiHttp;
using Spindle.Trigger.Http.Server;
using Spindle.Trigger.Tests.Support;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Tests.Server;

/// <summary>
/// Admission control against a real pooling engine with a tiny pool (16 core instances) and the real JS sleep
/// component (4 core instances per request, 100 ms in a host timer): at most 4 requests run at once, the rest
/// wait in the queue or get 503 + Retry-After, never a 500 from an exhausted pool. Real Kestrel on loopback.
/// Not proved here: behaviour under sustained load (bench/run.sh does that).
/// </summary>
public sealed class AdmissionTests
{
    internal static EngineOptions SmallPool(uint instances) => new()
    {
        Pooling = true,
        TotalCoreInstances = instances,
        TotalMemories = instances,
        TotalTables = instances,
        AsyncStackSize = 8 << 20,
    };

    [Fact]
    public async Task Requests_beyond_the_pool_get_503_with_Retry_After_and_never_500()
    {
        var ct = TestContext.Current.CancellationToken;
        using var wasm = new SpindleEngine(SmallPool(16));
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions { QueueLimit = 4, QueueTimeout = TimeSpan.FromMilliseconds(150) }, ct);

        var responses = await server.FireAsync(32, ct);

        var statuses = responses.Select(r => (int)r.StatusCode).ToArray();
        Assert.All(statuses, s => Assert.True(s is 200 or 503, $"unexpected status {s}; all: {string.Join(",", statuses)}"));
        Assert.InRange(statuses.Count(s => s == 200), 4, 31);
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToArray();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.Equal("1", Assert.Single(r.Headers.GetValues("Retry-After"))));
        foreach (var r in responses) r.Dispose();

        // The pool is whole again: sequential and (capacity-sized) concurrent requests are served.
        for (var i = 0; i < 3; i++)
            Assert.Equal("slept\n", await server.Client.GetStringAsync("/", ct));
        var again = await server.FireAsync(4, ct);
        Assert.All(again, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
    }

    [Fact]
    public async Task Requests_beyond_the_pool_wait_in_the_queue_and_all_succeed()
    {
        var ct = TestContext.Current.CancellationToken;
        using var wasm = new SpindleEngine(SmallPool(16));
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions { QueueLimit = 100, QueueTimeout = TimeSpan.FromSeconds(60) }, ct);

        // 20 requests through 4 slots of 100 ms: at least 5 rounds, so they must have queued (the pool alone would fail).
        var started = System.Diagnostics.Stopwatch.StartNew();
        var responses = await server.FireAsync(20, ct);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.True(started.ElapsedMilliseconds >= 450, $"20 requests of 100 ms took {started.ElapsedMilliseconds} ms with 4 slots");
    }

    [Fact]
    public async Task A_component_larger_than_the_pool_is_refused_at_load()
    {
        var ct = TestContext.Current.CancellationToken;
        using var wasm = new SpindleEngine(SmallPool(2));
        var e = await Assert.ThrowsAsync<ExecutorCreationException>(async () => await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct));
        Assert.Contains("core instances per request", e.Message);
        Assert.Contains("holds only 2", e.Message);
    }

    /// <summary>A hot lane as <see cref="SpindleEngine.DefaultHotLaneOptions"/> makes it, with <paramref name="instances"/> core instances.</summary>
    internal static EngineOptions HotPool(uint instances) => SpindleEngine.DefaultHotLaneOptions() with
    {
        TotalCoreInstances = instances,
        TotalMemories = instances,
        TotalTables = instances,
        MaxUnusedWarmSlots = instances,
    };

    [Fact]
    public async Task Admission_counts_against_the_hot_lane_so_requests_beyond_it_wait_for_a_warm_instance()
    {
        var ct = TestContext.Current.CancellationToken;
        using var wasm = new SpindleEngine(SmallPool(128), hotLane: HotPool(8));
        Assert.Equal(8, wasm.HotLane!.Capacity);
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct);

        // 24 requests of 100 ms at once: two fit the lane (4 core instances each); the others wait in the admission
        // queue and run on the two warm instances in turn, none fresh on the main pool (whose 128 would admit 32).
        var responses = await server.FireAsync(24, ct);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(24, wasm.HotLane.Served);
        Assert.Equal(22, wasm.HotLane.Reused);
    }

    [Fact]
    public async Task Instances_idle_through_a_trim_interval_are_disposed()
    {
        var ct = TestContext.Current.CancellationToken;
        using var wasm = new SpindleEngine(SmallPool(128), hotLane: HotPool(64), hotLaneTrimInterval: Timeout.InfiniteTimeSpan);
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct);
        var responses = await server.FireAsync(12, ct);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var instances = ((WasiHttpExecutor)server.Executor).HotInstances!;
        Assert.InRange(instances.Idle, 2, 12);

        // The first trim only marks the low-water point; one request keeps one instance busy (then idle again)
        // through the second interval, so the second trim keeps exactly the one it used.
        wasm.HotLane!.Trim();
        Assert.Equal("slept\n", await server.Client.GetStringAsync("/", ct));
        wasm.HotLane.Trim();
        Assert.Equal(1, instances.Idle);
        wasm.HotLane.Trim();
        Assert.Equal(0, instances.Idle);
        Assert.Equal("slept\n", await server.Client.GetStringAsync("/", ct));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_request_sees_pristine_memory_in_either_lane(bool hot)
    {
        // WAT hello with a 4-page memory that traps when byte 200000 (page 3: beyond the main pool's 128 KiB
        // keep-resident, inside the hot lane's) is set, and sets it. A slot reused without a reset answers 500.
        using var source = HelloVariant.With(
            (HelloVariant.Locals, HelloVariant.Locals + "\n(if (i32.load8_u (i32.const 200000)) (then unreachable))\n(i32.store8 (i32.const 200000) (i32.const 1))"),
            ("(memory (export \"memory\") 1)", "(memory (export \"memory\") 4)"));
        using var wasm = hot
            ? new SpindleEngine(SmallPool(64), hotLane: HotPool(64))
            : new SpindleEngine(SmallPool(64) with { LinearMemoryKeepResident = 128 << 10 });
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct: TestContext.Current.CancellationToken, source.Path);
        for (var i = 0; i < 20; i++)
            Assert.Equal("Hello, world!\n", await server.Client.GetStringAsync("/", TestContext.Current.CancellationToken));
        Assert.Equal(hot ? 20 : 0, wasm.HotLane?.Served ?? 0);
        Assert.Equal(hot ? 19 : 0, wasm.HotLane?.Reused ?? 0); // one instance, reset 19 times
    }
}
