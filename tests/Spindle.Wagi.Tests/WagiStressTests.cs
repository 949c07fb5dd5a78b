using System.Net;

namespace Spindle.Wagi.Tests;

/// <summary>
/// Many concurrent requests across modules that exit, trap, hit errno paths and print, while the GC runs
/// constantly. Host functions run managed code on Wasmtime fibers; before Spindle.Wasmtime kept fiber stacks
/// below thread stacks, a GC during a host call crashed the process in about one full test run in two.
/// </summary>
public sealed class WagiStressTests
{
    [Fact]
    public async Task Concurrent_mixed_requests_under_constant_collections_all_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var env = await WagiTestServer.StartAsync(WagiTestServer.Options("env"));
        await using var files = await WagiTestServer.StartAsync(WagiTestServer.Options("readfile")); // no mount: ENOENT paths
        await using var exit = await WagiTestServer.StartAsync(WagiTestServer.Options("exit1"));
        await using var trap = await WagiTestServer.StartAsync(WagiTestServer.Options("trap"));
        (WagiTestServer Server, HttpStatusCode Expected)[] targets =
            [(env, HttpStatusCode.OK), (files, HttpStatusCode.NotFound), (exit, HttpStatusCode.InternalServerError), (trap, HttpStatusCode.InternalServerError)];

        using var stop = new CancellationTokenSource();
        var collector = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                await Task.Delay(2);
            }
        }, ct);

        using var gate = new SemaphoreSlim(32);
        var requests = Enumerable.Range(0, 240).Select(async i =>
        {
            await gate.WaitAsync(ct);
            try
            {
                var (server, expected) = targets[i % targets.Length];
                using var response = await server.Client.GetAsync("/?/data/missing.txt", ct);
                await response.Content.ReadAsByteArrayAsync(ct);
                return response.StatusCode == expected ? null : $"request {i}: {response.StatusCode}, expected {expected}";
            }
            finally
            {
                gate.Release();
            }
        }).ToArray();
        var problems = (await Task.WhenAll(requests)).Where(p => p != null).ToList();
        stop.Cancel();
        await collector;
        Assert.Empty(problems);
    }
}
