using System.Net;

namespace Spindle.Wagi.Tests;

/// <summary>Checks the big fixture's 10 MiB output (tests/fixtures/wagi/big.c): streamed, intact, and held back by
/// backpressure while the client stalls instead of piling up in the host.</summary>
internal static class BigBody
{
    public static async Task AssertStreamedWithBoundedMemoryAsync(HttpClient client, string path)
    {
        var ct = TestContext.Current.CancellationToken;
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Content.Headers.ContentLength); // streamed (chunked), not buffered then sent
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[65536];
        long total = 0;
        long peak = 0;
        var patternOk = true;
        while (true)
        {
            var n = await body.ReadAsync(buffer, ct);
            if (n == 0) break;
            for (var i = 0; i < n; i++)
                if (buffer[i] != (byte)('a' + (total + i) % 65536 % 26)) { patternOk = false; break; }
            total += n;
            if (total > 1024 * 1024 && peak == 0)
            {
                // Stall the client: the guest must be held back by backpressure, not buffered in the host.
                await Task.Delay(300, ct);
                peak = GC.GetTotalMemory(forceFullCollection: true) - baseline;
            }
        }
        Assert.Equal(10L * 1024 * 1024, total);
        Assert.True(patternOk);
        Assert.True(peak < 4 * 1024 * 1024, $"live managed heap grew by {peak} bytes while the client stalled");
    }
}

/// <summary>
/// The 10 MiB streams of a Wagi module and of a wasi:cli/run component. They measure the process's live managed
/// heap, so they run alone: another test allocating meanwhile (a server starting, a component loading) would be
/// counted as the host buffering the stalled output.
/// </summary>
[Collection(nameof(BigBodyTests))]
public sealed class BigBodyTests
{
    [Fact]
    public async Task Ten_megabytes_of_module_stdout_stream_with_bounded_memory()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("big"));
        await BigBody.AssertStreamedWithBoundedMemoryAsync(server.Client, "/");
    }

    [Fact]
    public async Task Ten_megabytes_of_component_stdout_stream_with_bounded_memory()
    {
        await using var server = await WagiComponentTestServer.StartAsync(["big"]);
        await BigBody.AssertStreamedWithBoundedMemoryAsync(server.Client, "/big");
    }
}

[CollectionDefinition(nameof(BigBodyTests), DisableParallelization = true)]
public sealed class BigBodyTestsCollection;
