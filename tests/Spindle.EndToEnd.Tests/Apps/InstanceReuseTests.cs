using System.Net.Http.Json;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;
using Spindle.Trigger.Http.Executors.WasiHttp;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>
/// <c>--instance-reuse on|off</c> (<see cref="SpindleHostOptions.InstanceReuse"/>): with reuse on, a wasi:http
/// instance is reset after each request and serves the next one; with it off, every request gets a fresh instance,
/// as in Spin. Either way a JavaScript guest (both toolchains) must see nothing an earlier request left behind: its
/// module-level counter and a property it sets on <c>globalThis</c> start afresh, and <c>Math.random()</c> and
/// <c>crypto.getRandomValues()</c> never repeat a value (a reset that put a seeded generator back would).
/// Hosts share the test run's one engine: the choice is made per application, for its executors.
/// </summary>
public sealed class InstanceReuseTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private const int Requests = 200;

    /// <summary>What tests/fixtures/js/fresh-state.js answers.</summary>
    private sealed record FreshState(int Count, int Global, double[] Random, string Bytes);

    [Theory]
    [InlineData("js", true)]
    [InlineData("js", false)]
    [InlineData("spinjs", true)]
    [InlineData("spinjs", false)]
    public async Task A_javascript_guest_sees_fresh_state_on_every_request(string toolchain, bool reuse)
    {
        using var app = new TestApp($$"""
            spin_manifest_version = 2
            [application]
            name = "fresh"
            [[trigger.http]]
            route = "/..."
            component = "fresh"
            [component.fresh]
            source = "{fixture:{{toolchain}}/fresh-state.wasm}"
            """);
        await using var host = await app.StartAsync(runtime, configure: o => o with { Server = o.Server with { InstanceReuse = reuse } });
        using var client = TestApp.Client(host.BaseUrl);
        var lane = ((WasiHttpExecutor)host.Application.GetExecutor("fresh")!).HotInstances;
        Assert.NotNull(lane); // the shared runtime has a hot lane

        var replies = new List<FreshState>();
        for (var i = 0; i < Requests; i++) replies.Add(await Get(client));
        var sequentialReused = lane.Reused;
        replies.AddRange(await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => Get(client))));

        Assert.All(replies, r =>
        {
            Assert.Equal(1, r.Count);
            Assert.Equal(1, r.Global);
            Assert.Equal(2, r.Random.Length);
            Assert.All(r.Random, x => Assert.True(x is >= 0 and < 1, $"Math.random() gave {x}"));
            Assert.Equal(32, r.Bytes.Length);
        });
        var randoms = replies.SelectMany(r => r.Random).ToList();
        Assert.Equal(randoms.Count, randoms.Distinct().Count());
        var bytes = replies.Select(r => r.Bytes).ToList();
        Assert.Equal(bytes.Count, bytes.Distinct().Count());

        // The fresh state was not for want of reuse: with it on, warm instances served most sequential requests
        // (other tests sharing the lane may evict one now and then); with it off, none, though requests still ran
        // on the lane, fresh.
        Assert.True(lane.Served > 0, "no request ran on the hot lane");
        if (reuse) Assert.True(sequentialReused >= Requests / 2, $"only {sequentialReused} of {Requests} sequential requests reused an instance");
        else Assert.Equal(0, lane.Reused);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_module_level_counter_and_a_growing_array_start_afresh_on_every_request(bool reuse)
    {
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "counter"
            [[trigger.http]]
            route = "/..."
            component = "counter"
            [component.counter]
            source = "{fixture:js/counter.wasm}"
            """);
        await using var host = await app.StartAsync(runtime, configure: o => o with { Server = o.Server with { InstanceReuse = reuse } });
        using var client = TestApp.Client(host.BaseUrl);
        for (var i = 0; i < Requests; i++)
            Assert.Equal("1 1\n", await client.GetStringAsync("/", Ct));
        var concurrent = await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => client.GetStringAsync("/", Ct)));
        Assert.All(concurrent, body => Assert.Equal("1 1\n", body));
        var lane = ((WasiHttpExecutor)host.Application.GetExecutor("counter")!).HotInstances!;
        if (reuse) Assert.True(lane.Reused > 0);
        else Assert.Equal(0, lane.Reused);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_guest_that_draws_a_seed_while_instantiated_gets_a_new_seed_on_every_request(bool reuse)
    {
        // The guest's start function calls wasi:random when instantiated (as a runtime that seeds its generator at
        // startup would) and answers the 8 bytes: a reset to the just-instantiated state would replay that seed,
        // so such an instance is never reused.
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "seed"
            [[trigger.http]]
            route = "/..."
            component = "seed"
            [component.seed]
            source = "{fixture:wat/http-seed-at-start.wasm}"
            """);
        await using var host = await app.StartAsync(runtime, configure: o => o with { Server = o.Server with { InstanceReuse = reuse } });
        using var client = TestApp.Client(host.BaseUrl);
        var seeds = new List<string>();
        for (var i = 0; i < Requests; i++) seeds.Add(Convert.ToHexString(await client.GetByteArrayAsync("/", Ct)));
        seeds.AddRange((await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => client.GetByteArrayAsync("/", Ct))))
            .Select(Convert.ToHexString));
        Assert.All(seeds, s => Assert.Equal(16, s.Length));
        Assert.Equal(seeds.Count, seeds.Distinct().Count());
        var lane = ((WasiHttpExecutor)host.Application.GetExecutor("seed")!).HotInstances!;
        Assert.True(lane.Served > 0, "no request ran on the hot lane");
        Assert.Equal(0, lane.Reused);
    }

    private static async Task<FreshState> Get(HttpClient client)
    {
        using var response = await client.GetAsync("/", Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<FreshState>(System.Text.Json.JsonSerializerOptions.Web, Ct))!;
    }
}
