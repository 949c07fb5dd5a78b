using System.Diagnostics;
using System.Net;
using Spindle.EndToEnd.Tests.Support;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>
/// CPU-bound guests share the cores: they cannot starve Kestrel or unrelated requests, and a request's deadline is
/// wall-clock time that holds however many guests are busy (2 cores here). Timing-sensitive: its collection runs
/// alone, after the assembly's parallel tests.
/// </summary>
[Collection(nameof(StarvationTests))]
public sealed class StarvationTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private const string Manifest = """
        spin_manifest_version = 2
        [application]
        name = "busy"
        [[trigger.http]]
        route = "/busy"
        component = "busy"
        [[trigger.http]]
        route = "/hello"
        component = "hello"
        [component.busy]
        source = "{fixture:wat/http-loop.wasm}"
        [component.hello]
        source = "{fixture:wat/http-hello.wasm}"
        """;

    [Fact]
    public async Task The_request_timeout_holds_with_20_busy_guests()
    {
        using var app = new TestApp(Manifest);
        await using var host = await app.StartAsync(runtime, configure: o => o with { Server = o.Server with { RequestTimeout = TimeSpan.FromSeconds(1) } });
        using var client = TestApp.Client(host.BaseUrl);

        // 20 connections open and warm first: the burst measures the deadline, not 20 TCP handshakes.
        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.GetStringAsync("/hello", Ct)));

        async Task<(HttpStatusCode, TimeSpan)> Busy()
        {
            var watch = Stopwatch.StartNew();
            using var response = await client.GetAsync("/busy", Ct);
            return (response.StatusCode, watch.Elapsed);
        }
        // The deadline is 1 s and must hold within 20% (1.2 s, seen at the client, 1.10-1.18 s here when alone). On
        // a 2-core machine shared with other test assemblies one burst can be slower (1.75 s has been seen), so each
        // of up to three bursts must end within 2.5 s and one of them within 1.2 s. Before time slicing: 4.6-13 s,
        // and past the client's 60 s timeout in this test.
        var slowestOfEach = new List<TimeSpan>();
        for (var burst = 0; burst < 3; burst++)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Busy()));
            // Up to AdmissionOptions.RunningPerComponent guests run and time out (500); the others wait in the queue
            // and are refused when the deadline passes there (503), the deadline counting from arrival.
            Assert.All(results, r => Assert.True(r.Item1 is HttpStatusCode.InternalServerError or HttpStatusCode.ServiceUnavailable, $"status {r.Item1}"));
            Assert.Contains(results, r => r.Item1 == HttpStatusCode.InternalServerError);
            var slowest = results.Max(r => r.Item2);
            Assert.True(slowest < TimeSpan.FromSeconds(2.5), $"slowest busy request ended after {slowest}");
            slowestOfEach.Add(slowest);
            if (slowest <= TimeSpan.FromSeconds(1.2)) return;
        }
        Assert.Fail($"no burst held the 1 s deadline within 20%: slowest requests ended after {string.Join(", ", slowestOfEach.Select(t => $"{t.TotalMilliseconds:0} ms"))}");
    }

    [Fact]
    public async Task A_hello_on_another_component_stays_fast_while_8_guests_compute()
    {
        using var app = new TestApp(Manifest);
        await using var host = await app.StartAsync(runtime, configure: o => o with { Server = o.Server with { RequestTimeout = TimeSpan.FromSeconds(6) } });
        using var client = TestApp.Client(host.BaseUrl);
        using var hello = TestApp.Client(host.BaseUrl);
        Assert.Equal("Hello, world!\n", await hello.GetStringAsync("/hello", Ct));

        var busy = Enumerable.Range(0, 8).Select(_ => client.GetAsync("/busy", Ct)).ToList();
        await Task.Delay(500, Ct); // the guests are running
        var latencies = new List<TimeSpan>();
        for (var i = 0; i < 40; i++)
        {
            var watch = Stopwatch.StartNew();
            Assert.Equal("Hello, world!\n", await hello.GetStringAsync("/hello", Ct));
            latencies.Add(watch.Elapsed);
        }
        Assert.False(busy.All(t => t.IsCompleted), "the busy guests ended before the hellos were measured");
        latencies.Sort();
        var p95 = latencies[(int)(latencies.Count * 0.95)];
        Assert.True(p95 < TimeSpan.FromMilliseconds(250), $"hello p95 {p95.TotalMilliseconds:0} ms, max {latencies[^1].TotalMilliseconds:0} ms");
        foreach (var r in await Task.WhenAll(busy)) r.Dispose();
    }
}

/// <summary>Runs <see cref="StarvationTests"/> without other tests of this assembly beside it.</summary>
[CollectionDefinition(nameof(StarvationTests), DisableParallelization = true)]
public sealed class StarvationCollection;
