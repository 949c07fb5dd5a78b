using System.Diagnostics;
using System.Net;
using Spindle.Engine;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;
using Spindle.Trigger.Tests.Support;
using static Spindle.Trigger.Tests.Server.AdmissionTests;

namespace Spindle.Trigger.Tests.Server;

/// <summary>
/// A guest's flush sends what it wrote at once, without waiting for the guest to wait or return (Spin sends flushed
/// bytes at once; the seed promises each send is carried out as called).
/// </summary>
public sealed class FlushTests
{
    // After the hello's blocking-write-and-flush: a busy loop of about a second or two (no host call, no yield).
    private const string AfterFlush = "(call $write (local.get $stream) (i32.const 16) (i32.const 14) (i32.const 0))";
    private const string BusyLoop = """
        (global.set $spin (i32.const 0))
        (loop $busy
          (global.set $spin (i32.add (global.get $spin) (i32.const 1)))
          (br_if $busy (i32.lt_u (global.get $spin) (i32.const 1500000000))))
        """;

    private static HelloVariant Variant(string afterLoop) => HelloVariant.With(
        (HelloVariant.Data, HelloVariant.Data + "\n(global $spin (mut i32) (i32.const 0))"),
        (AfterFlush, AfterFlush + "\n" + BusyLoop + "\n" + afterLoop));

    private static async Task<(TimeSpan FirstChunk, TimeSpan End, string Received, Exception? Error)> ReadTimed(HttpClient client, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using var response = await client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[64];
        var received = new MemoryStream();
        var n = await body.ReadAsync(buffer, ct);
        var firstChunk = watch.Elapsed;
        received.Write(buffer, 0, n);
        Exception? error = null;
        try
        {
            while ((n = await body.ReadAsync(buffer, ct)) > 0)
                received.Write(buffer, 0, n);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            error = e;
        }
        return (firstChunk, watch.Elapsed, System.Text.Encoding.ASCII.GetString(received.ToArray()), error);
    }

    [Fact]
    public async Task A_flushed_chunk_arrives_while_the_guest_still_computes()
    {
        var ct = TestContext.Current.CancellationToken;
        using var source = Variant("");
        using var wasm = new SpindleEngine(SmallPool(64), hotLane: HotPool(8));
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct, source.Path);

        var (first, end, received, error) = await ReadTimed(server.Client, ct);
        Assert.Null(error);
        Assert.Equal("Hello, world!\n", received);
        Assert.True(end > TimeSpan.FromMilliseconds(300), $"the loop took only {end}");
        Assert.True(first < end / 3, $"first chunk after {first}, response ended after {end}");
    }

    [Fact]
    public async Task A_trap_after_a_flush_aborts_the_started_response_instead_of_answering_500()
    {
        var ct = TestContext.Current.CancellationToken;
        using var source = Variant("unreachable");
        using var wasm = new SpindleEngine(SmallPool(64), hotLane: HotPool(8));
        await using var server = await ComponentServer.StartAsync(wasm, new AdmissionOptions(), ct, source.Path);

        var (first, end, received, error) = await ReadTimed(server.Client, ct);
        Assert.Equal("Hello, world!\n", received);
        Assert.NotNull(error);
        Assert.True(first < end / 3, $"first chunk after {first}, response ended after {end}");
        // The server keeps serving.
        var again = await ReadTimed(server.Client, ct);
        Assert.NotNull(again.Error);
    }
}
