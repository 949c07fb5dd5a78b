using System.Diagnostics;
using System.Net;
using System.Text;

namespace Spindle.Wagi.Tests;

/// <summary>
/// stdin streams from the client while the guest runs, and guests waiting for body bytes hold no thread.
/// </summary>
public sealed class WagiStreamingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Request content that sends its parts one at a time, each when the test releases it.</summary>
    private sealed class GatedContent(long length, params Task<byte[]>[] parts) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            foreach (var part in parts)
            {
                var bytes = await part;
                await stream.WriteAsync(bytes);
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length1)
        {
            length1 = length;
            return true;
        }
    }

    [Fact]
    public async Task The_guest_echoes_the_first_part_of_the_body_before_the_rest_is_sent()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("echo"));
        // Raw HTTP/1.1: HttpClient would not hand out the response before the request body is complete.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Client.BaseAddress!.Port, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nping1"u8.ToArray(), Ct);
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        async Task ReadUntil(string text)
        {
            var deadline = Stopwatch.StartNew();
            while (!seen.ToString().Contains(text, StringComparison.Ordinal))
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"'{text}' not seen; got: {seen}");
                var n = await stream.ReadAsync(buffer, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
                Assert.NotEqual(0, n);
                seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        await ReadUntil("ping1"); // headers and the first echoed part, while the body is still incomplete
        Assert.StartsWith("HTTP/1.1 200", seen.ToString());
        await stream.WriteAsync("ping2"u8.ToArray(), Ct);
        await ReadUntil("ping2");
        await ReadUntil("\r\n0\r\n\r\n"); // the last chunk: the guest finished
    }

    [Fact]
    public async Task Fifty_guests_waiting_for_body_bytes_hold_no_threads()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("echo"));
        await server.Client.PostAsync("/", new StringContent("warm"), Ct); // compile, JIT and pool warm-up
        var release = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var threadsBefore = Process.GetCurrentProcess().Threads.Count;
        var requests = Enumerable.Range(0, 50).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new GatedContent(4, release.Task) };
            using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
            return await response.Content.ReadAsStringAsync(Ct);
        }).ToArray();
        await Task.Delay(1000, Ct); // every guest is now inside fd_read on an empty body
        var threadsWaiting = Process.GetCurrentProcess().Threads.Count;
        Assert.All(requests, r => Assert.False(r.IsCompleted));
        release.SetResult("body"u8.ToArray());
        var bodies = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.All(bodies, b => Assert.Equal("body", b));
        Assert.True(threadsWaiting - threadsBefore < 25, $"threads grew from {threadsBefore} to {threadsWaiting} with 50 guests waiting");
    }

    /// <summary>Reads a response as it arrives: when the first bytes came, when it ended, what came, how it ended.</summary>
    private static async Task<(TimeSpan FirstChunk, TimeSpan End, string Received, Exception? Error)> ReadTimed(HttpClient client, string url)
    {
        var watch = Stopwatch.StartNew();
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStreamAsync(Ct);
        var buffer = new byte[64];
        var received = new MemoryStream();
        var n = await body.ReadAsync(buffer, Ct);
        var firstChunk = watch.Elapsed;
        received.Write(buffer, 0, n);
        Exception? error = null;
        try
        {
            while ((n = await body.ReadAsync(buffer, Ct)) > 0)
                received.Write(buffer, 0, n);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            error = e;
        }
        return (firstChunk, watch.Elapsed, Encoding.ASCII.GetString(received.ToArray()), error);
    }

    [Fact]
    public async Task A_flushed_chunk_arrives_while_the_module_still_computes()
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("flush"));
        var (first, end, received, error) = await ReadTimed(server.Client, "/");
        Assert.Null(error);
        Assert.Equal("first chunk\nsecond chunk\n", received);
        Assert.True(end > TimeSpan.FromSeconds(1.4), $"the module computed for only {end}");
        Assert.True(first < end / 3, $"first chunk after {first}, response ended after {end}");
    }

    [Theory]
    [InlineData("trap", "trapped")]
    [InlineData("exit", "exited with code 1")]
    public async Task A_failure_after_a_flush_aborts_the_started_response_instead_of_answering_500(string how, string reason)
    {
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("flush"));
        var (first, end, received, error) = await ReadTimed(server.Client, "/?" + how);
        Assert.Equal("first chunk\n", received); // the status and the flushed bytes, then an incomplete body
        Assert.NotNull(error);
        Assert.True(first < end / 3, $"first chunk after {first}, response ended after {end}");
        var logged = Assert.Single(server.Logs.Lines, l => l.Contains("aborting the response"));
        Assert.Contains(reason, logged);
        // The server keeps serving.
        var again = await ReadTimed(server.Client, "/");
        Assert.Null(again.Error);
    }
}
