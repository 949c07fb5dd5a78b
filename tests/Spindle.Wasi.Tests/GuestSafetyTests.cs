using System.Diagnostics;
using System.Net;
using Spindle.Engine;
using Spindle.Testing;
using Spindle.Trigger.Http.Executors;
using Spindle.Components.Runtime;
using Spindle.Trigger.Http.Executors.WasiHttp;
using Spindle.Wasmtime;

namespace Spindle.Wasi.Tests;

/// <summary>
/// A guest can only hurt its own request: resource misuse traps that request (500) while the server keeps
/// serving.
/// </summary>
public sealed class GuestSafetyTests : IDisposable
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private readonly WasmEngine _engine = new(new EngineOptions { AsyncStackSize = 8 * 1024 * 1024 });
    private readonly TestLogSink _logs = new();

    private WasiHttpExecutor Executor(string handleBody) => WasiHttpExecutor.Create(_engine,
        Component.Load(_engine, Wat.ToWasm(WatGuests.Component(handleBody)), WasiHost.CreateRegistry()),
        "guest", [], _logs, TimeSpan.FromSeconds(30));

    [Theory]
    [InlineData(nameof(WatGuests.DropUnknownHandle))]
    [InlineData(nameof(WatGuests.WriteAfterDrop))]
    public async Task Resource_misuse_traps_the_request_and_the_server_keeps_serving(string mode)
    {
        var misuse = Executor(mode == nameof(WatGuests.DropUnknownHandle) ? WatGuests.DropUnknownHandle : WatGuests.WriteAfterDrop);
        var hello = Executor(WatGuests.Hello);
        // One server, two paths: the misbehaving guest and a healthy one, interleaved.
        await using var server = await TestServer.StartAsync(
            http => http.Request.Path.StartsWithSegments("/bad") ? misuse.ServeAsync(http) : hello.ServeAsync(http), _logs);
        // Nothing was sent when the guest trapped (WriteAfterDrop set its response, but the head goes out only
        // when the guest waits or returns): an empty 500, never a complete response.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("500", await OutcomeAsync(server.Client, "/bad"));
            Assert.Equal("hello from wat\n", await server.Client.GetStringAsync("/good", Ct));
        }
        // The trap names what was misused.
        Assert.Contains(_logs.Lines, l => l.Contains("output-stream", StringComparison.Ordinal));
    }

    private static async Task<string> OutcomeAsync(HttpClient client, string path)
    {
        try
        {
            using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, Ct);
            var body = await response.Content.ReadAsByteArrayAsync(Ct);
            return response.StatusCode == HttpStatusCode.InternalServerError && body.Length == 0 ? "500" : $"{(int)response.StatusCode} complete";
        }
        catch (HttpRequestException) { return "aborted"; }
    }

    public void Dispose() => _engine.Dispose();
}

/// <summary>Runs alone (no other test class in parallel), so the process-wide heap size measures only this test.</summary>
[CollectionDefinition(nameof(MemoryMeasurement), DisableParallelization = true)]
public sealed class MemoryMeasurement;

/// <summary>Many requests in a row leave no memory behind.</summary>
[Collection(nameof(MemoryMeasurement))]
public sealed class MemoryFlatnessTests : IDisposable
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private readonly WasmEngine _engine = new(new EngineOptions { AsyncStackSize = 8 * 1024 * 1024 });
    private readonly TestLogSink _logs = new();

    [Fact]
    public async Task A_thousand_sequential_requests_leave_memory_flat()
    {
        var hello = WasiHttpExecutor.Create(_engine,
            Component.Load(_engine, Wat.ToWasm(WatGuests.Component(WatGuests.Hello)), WasiHost.CreateRegistry()),
            "guest", [], _logs, TimeSpan.FromSeconds(30));
        await using var server = await TestServer.StartAsync(hello.ServeAsync, _logs);
        async Task Run(int n)
        {
            for (var i = 0; i < n; i++)
                Assert.Equal("hello from wat\n", await server.Client.GetStringAsync("/", Ct));
        }
        await Run(200); // warm up: JIT, pools, connection
        // Each request creates a store, an instance, host resources and pipes; none may survive it.
        await AssertFlat(Run, managedOnly: true);
    }

    /// <summary>
    /// Runs two batches of 1,000 requests and checks that at least one left the managed heap (and, unless
    /// <paramref name="managedOnly"/>, the process) within bounds: a leak grows with every batch, while a one-off
    /// (a lazily filled cache, a compile finishing in the background) shows in one batch at most.
    /// </summary>
    private static async Task AssertFlat(Func<int, Task> run, bool managedOnly)
    {
        var growth = new List<(long Managed, long Process)>();
        for (var batch = 0; batch < 2; batch++)
        {
            var before = (GC.GetTotalMemory(forceFullCollection: true), Process.GetCurrentProcess().WorkingSet64);
            await run(1000);
            growth.Add((GC.GetTotalMemory(forceFullCollection: true) - before.Item1, Process.GetCurrentProcess().WorkingSet64 - before.Item2));
        }
        Assert.True(growth.Exists(g => g.Managed < 4 << 20 && (managedOnly || g.Process < 32 << 20)),
            "grew over each batch of 1,000 requests: " + string.Join("; ", growth.Select(g => $"managed heap {g.Managed / 1024} KiB, process {g.Process >> 20} MiB")));
    }

    [Fact]
    public async Task A_thousand_requests_on_warm_instances_leave_memory_flat()
    {
        // JS hello on a hot lane: after the first request every one runs on a reused, reset instance. Neither the
        // managed heap nor the process (Wasmtime's stores live outside it) may grow with the requests served.
        using var lane = new HotLane(new WasmEngine(SpindleEngine.DefaultHotLaneOptions()));
        var bytes = File.ReadAllBytes(Paths.Fixture("js/hello.wasm"));
        using var main = Component.LoadResettable(_engine, bytes, WasiHost.CreateRegistry());
        using var hot = Component.LoadResettable(lane.Engine, bytes, WasiHost.CreateRegistry());
        var hello = WasiHttpExecutor.Create(_engine, main, "guest", [], _logs, TimeSpan.FromSeconds(30), lanes: [(lane, hot)]);
        await using var server = await TestServer.StartAsync(hello.ServeAsync, _logs);
        async Task Run(int n)
        {
            for (var i = 0; i < n; i++)
                Assert.Equal("Hello from JavaScript\n", await server.Client.GetStringAsync("/", Ct));
        }
        await Run(200);
        await AssertFlat(Run, managedOnly: false);
        Assert.True(lane.Reused >= 2000, $"{lane.Reused} of {lane.Served} requests reused an instance");
    }

    public void Dispose() => _engine.Dispose();
}
