using System.Net;
using Spindle.Engine;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;
using Spindle.Trigger.Tests.Support;
using static Spindle.Trigger.Tests.Server.AdmissionTests;

namespace Spindle.Trigger.Tests.Server;

/// <summary>
/// The hot lane's warm instances (reset after each request instead of instantiated afresh) with real JavaScript
/// guests on real Kestrel: no request may see what an earlier one left in the guest, and a guest that failed is
/// never reused.
/// </summary>
public sealed class WarmInstanceTests
{
    [Fact]
    public async Task A_javascript_guest_keeps_no_state_between_requests()
    {
        var ct = TestContext.Current.CancellationToken;
        using var wasm = new SpindleEngine(SmallPool(64), hotLane: HotPool(16));
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct, Paths.Fixture("js/counter.wasm"));
        for (var i = 0; i < 30; i++)
            Assert.Equal("1 1\n", await server.Client.GetStringAsync("/", ct));
        Assert.Equal(30, wasm.HotLane!.Served);
        Assert.Equal(29, wasm.HotLane.Reused);

        // Concurrent requests spread over several warm instances, each reset the same way.
        var responses = await server.FireAsync(12, ct);
        foreach (var r in responses) Assert.Equal("1 1\n", await r.Content.ReadAsStringAsync(ct));
    }

    [Fact]
    public async Task A_guest_that_trapped_is_discarded_and_the_lane_keeps_serving()
    {
        var ct = TestContext.Current.CancellationToken;
        // WAT hello that traps on every request (its store is poisoned: it must never serve again).
        using var source = HelloVariant.With((HelloVariant.Locals, HelloVariant.Locals + "\nunreachable"));
        using var wasm = new SpindleEngine(SmallPool(64), hotLane: HotPool(8));
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct, source.Path);
        for (var i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.InternalServerError, (await server.Client.GetAsync("/", ct)).StatusCode);
        // Every request ran on the lane in a new instance: a trapped one frees its room instead of being reused.
        Assert.Equal(5, wasm.HotLane!.Served);
        Assert.Equal(0, wasm.HotLane.Reused);
    }

    [Fact]
    public async Task A_component_whose_instances_cannot_be_reset_gets_a_fresh_one_per_request_on_the_lane()
    {
        var ct = TestContext.Current.CancellationToken;
        // WAT hello whose guest module holds code that could change its table: its state could outlive a reset.
        using var source = HelloVariant.With((HelloVariant.Data,
            HelloVariant.Data + "\n(table $t 1 funcref) (func (table.set $t (i32.const 0) (ref.null func)))"));
        using var wasm = new SpindleEngine(SmallPool(64), hotLane: HotPool(8));
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct, source.Path);
        for (var i = 0; i < 5; i++)
            Assert.Equal("Hello, world!\n", await server.Client.GetStringAsync("/", ct));
        Assert.Equal(5, wasm.HotLane!.Served);
        Assert.Equal(0, wasm.HotLane.Reused);
    }

    [Fact]
    public async Task When_the_lane_is_full_of_idle_instances_of_one_component_another_evicts_one()
    {
        var ct = TestContext.Current.CancellationToken;
        // Room for one JS instance (4 core instances): the sleep component's warm instance must make way.
        using var wasm = new SpindleEngine(SmallPool(64), hotLane: HotPool(4));
        await using var sleep = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct);
        await using var counter = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct, Paths.Fixture("js/counter.wasm"));
        Assert.Equal("slept\n", await sleep.Client.GetStringAsync("/", ct));
        Assert.Equal("1 1\n", await counter.Client.GetStringAsync("/", ct));
        Assert.Equal("slept\n", await sleep.Client.GetStringAsync("/", ct));
        Assert.Equal(3, wasm.HotLane!.Served);
        Assert.Equal(0, wasm.HotLane.Reused);

        // The counter's new instance gets the slots the evicted one had, kept resident by the pool (part of them
        // private pages that each reset copies back); still no state survives.
        for (var i = 0; i < 5; i++)
            Assert.Equal("1 1\n", await counter.Client.GetStringAsync("/", ct));
        Assert.Equal(8, wasm.HotLane.Served);
        Assert.Equal(4, wasm.HotLane.Reused);
    }
}
