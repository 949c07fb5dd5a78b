using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Spindle.Cli;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>Runs <see cref="RequestBodyTests"/> alone: one of them measures the process's memory.</summary>
[CollectionDefinition(nameof(RequestBodyTests), DisableParallelization = true)]
public sealed class RequestBodyCollection;

/// <summary>
/// Request bodies through real Kestrel and real guests: no size limit by default (as Spin), large uploads streamed
/// in bounded memory and delivered byte-exact, the client's malformed bodies and lengths answered 4xx, a body that
/// broke off never taken as complete, and <c>--max-request-body-size</c> answered 413.
/// </summary>
[Collection(nameof(RequestBodyTests))]
public sealed class RequestBodyTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private const int Block = 1 << 20;

    // wagi: a preview1 module echoing stdin; count: one counting stdin with fread (a read error ends its loop as the
    // end of input would); *-cli: the same as wasi:cli/run components; hash: a JavaScript wasi:http guest streaming
    // the body through SHA-256 (per 1 MiB block, then over the block digests).
    private const string Manifest = """
        spin_manifest_version = 2
        [application]
        name = "bodies"
        [[trigger.http]]
        route = "/wagi"
        component = "wagi"
        executor = { type = "wagi" }
        [[trigger.http]]
        route = "/wagi-cli"
        component = "wagi-cli"
        executor = { type = "wagi" }
        [[trigger.http]]
        route = "/count"
        component = "count"
        executor = { type = "wagi" }
        [[trigger.http]]
        route = "/count-cli"
        component = "count-cli"
        executor = { type = "wagi" }
        [[trigger.http]]
        route = "/hash"
        component = "hash"
        [component.wagi]
        source = "{fixture:wagi/echo.wasm}"
        [component.wagi-cli]
        source = "{fixture:wagi-cli/echo.wasm}"
        [component.count]
        source = "{fixture:wagi/count.wasm}"
        [component.count-cli]
        source = "{fixture:wagi-cli/count.wasm}"
        [component.hash]
        source = "{fixture:js/upload-stream-sha256.wasm}"
        """;

    private Task<SpindleHost> StartAsync(TestApp app, CapturedLog? log = null, long? maxRequestBodySize = null) =>
        app.StartAsync(runtime, log, o => o with { Server = o.Server with { MaxRequestBodySize = maxRequestBodySize } });

    [Fact]
    public async Task A_200_MB_upload_streams_through_a_component_in_bounded_memory()
    {
        const long Size = 200L * 1024 * 1024;
        using var app = new TestApp(Manifest);
        await using var host = await StartAsync(app);
        using var client = TestApp.Client(host.BaseUrl);
        client.Timeout = TimeSpan.FromMinutes(5);

        // Warm up (instance, caches), then take the baseline.
        var small = new GeneratedBody(3 * Block + 17, seed: 1);
        var smallAnswer = await PostHashAsync(client, small);
        Assert.Equal(small.ExpectedAnswerAfterSend(), smallAnswer);
        var process = Process.GetCurrentProcess();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        process.Refresh();
        var workingSetBefore = process.WorkingSet64;
        var managedBefore = GC.GetTotalMemory(forceFullCollection: true);

        long peak = workingSetBefore, managedPeak = managedBefore;
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                process.Refresh();
                peak = Math.Max(peak, process.WorkingSet64);
                managedPeak = Math.Max(managedPeak, GC.GetTotalMemory(forceFullCollection: false));
                try { await Task.Delay(20, stopSampling.Token); } catch (OperationCanceledException) { }
            }
        }, CancellationToken.None);

        var body = new GeneratedBody(Size, seed: 2);
        var clock = Stopwatch.StartNew();
        var answer = await PostHashAsync(client, body);
        clock.Stop();
        await stopSampling.CancelAsync();
        await sampler;

        Assert.Equal(body.ExpectedAnswerAfterSend(), answer);
        var managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        var growth = (peak - workingSetBefore) >> 20;
        var managedGrowth = (managedPeak - managedBefore) >> 20;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"200 MiB in {clock.Elapsed.TotalSeconds:0.0} s; working set {workingSetBefore >> 20} MiB before, peak +{growth} MiB; " +
            $"managed heap {managedBefore >> 20} MiB before, peak +{managedGrowth} MiB, {managedAfter >> 20} MiB after");
        // The host's own buffers: a body held in managed memory would add its 200 MiB.
        Assert.True(managedGrowth < 100, $"the managed heap grew by {managedGrowth} MiB while streaming 200 MiB");
        Assert.True(managedAfter - managedBefore < 32L << 20, $"the managed heap grew from {managedBefore >> 20} to {managedAfter >> 20} MiB");
        // Everything, guest included: the JavaScript guest's own streaming costs about 125 MiB (its memory grows
        // with garbage between collections, the same for 200 MiB or 600 MiB); a body held anywhere would add 200.
        Assert.True(growth < 220, $"the working set grew by {growth} MiB while streaming 200 MiB");
    }

    [Theory]
    [InlineData("/wagi", false)]
    [InlineData("/wagi", true)]
    [InlineData("/wagi-cli", false)]
    [InlineData("/wagi-cli", true)]
    public async Task A_40_MB_upload_is_echoed_byte_exact_by_a_Wagi_module(string route, bool chunked)
    {
        const long Size = 40L * 1000 * 1000;
        using var app = new TestApp(Manifest);
        await using var host = await StartAsync(app);

        // Raw HTTP/1.1, sending and receiving at once: the module echoes while the upload is still arriving (with a
        // Content-Length), which HttpClient's HTTP/1.1 (response only after the whole request was sent) cannot take.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(host.BaseUrl.Host, host.BaseUrl.Port, Ct);
        tcp.ReceiveTimeout = tcp.SendTimeout = 60_000;
        var stream = tcp.GetStream();
        var send = Task.Run(() =>
        {
            var framing = chunked ? "Transfer-Encoding: chunked" : $"Content-Length: {Size}";
            stream.Write(Encoding.ASCII.GetBytes($"POST {route} HTTP/1.1\r\nHost: test\r\n{framing}\r\n\r\n"));
            var body = new GeneratedBody(Size, seed: 3);
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = body.Read(buffer)) > 0)
            {
                if (chunked) stream.Write(Encoding.ASCII.GetBytes($"{n:x}\r\n"));
                stream.Write(buffer, 0, n);
                if (chunked) stream.Write("\r\n"u8);
            }
            if (chunked) stream.Write("0\r\n\r\n"u8);
        }, Ct);

        // Compared as it arrives against the same generator: no 40 MB copies in the test either.
        var total = await Task.Run(() =>
        {
            var input = new BufferedStream(stream, 64 * 1024);
            var status = ReadLine(input);
            Assert.StartsWith("HTTP/1.1 200 ", status);
            var headers = new List<string>();
            for (var line = ReadLine(input); line.Length > 0; line = ReadLine(input)) headers.Add(line.ToLowerInvariant());
            var expected = new GeneratedBody(Size, seed: 3);
            long received = 0;
            void Compare(long count)
            {
                var got = new byte[64 * 1024];
                var want = new byte[64 * 1024];
                while (count > 0)
                {
                    var n = (int)Math.Min(got.Length, count);
                    input.ReadExactly(got, 0, n);
                    Assert.True(received + n <= Size, $"more than the {Size} bytes sent came back");
                    expected.ReadExactly(want, 0, n);
                    Assert.True(got.AsSpan(0, n).SequenceEqual(want.AsSpan(0, n)), $"the echo differs within bytes {received}..{received + n}");
                    received += n;
                    count -= n;
                }
            }
            if (headers.Contains("transfer-encoding: chunked"))
            {
                for (long size; (size = Convert.ToInt64(ReadLine(input).Split(';')[0], 16)) > 0;)
                {
                    Compare(size);
                    Assert.Equal("", ReadLine(input));
                }
                Assert.Equal("", ReadLine(input));
            }
            else
                Compare(long.Parse(headers.Single(h => h.StartsWith("content-length:", StringComparison.Ordinal))[15..].Trim()));
            return received;
        }, Ct);
        await send;
        Assert.Equal(Size, total);
    }

    private static string ReadLine(Stream input)
    {
        var line = new StringBuilder();
        for (int b; (b = input.ReadByte()) != '\n';)
        {
            if (b < 0) throw new EndOfStreamException($"connection closed after '{line}'");
            if (b != '\r') line.Append((char)b);
        }
        return line.ToString();
    }

    [Theory]
    [InlineData("99999999999999999999999")] // beyond 64 bits (used to drop the connection)
    [InlineData("18446744073709551616")]
    [InlineData("-1")]
    [InlineData("12abc")]
    [InlineData("5\r\nContent-Length: 6")]
    public async Task An_unparsable_Content_Length_is_a_400(string contentLength)
    {
        using var app = new TestApp(Manifest);
        await using var host = await StartAsync(app);
        foreach (var route in new[] { "/wagi", "/hash" })
        {
            var reply = await RawAsync(host.BaseUrl, Encoding.ASCII.GetBytes(
                $"POST {route} HTTP/1.1\r\nHost: test\r\nContent-Length: {contentLength}\r\n\r\nhello"));
            Assert.Equal(400, reply.Status);
        }
    }

    [Theory]
    [InlineData("/wagi", "zz\r\nhello\r\n0\r\n\r\n")] // chunk size not hex
    [InlineData("/wagi-cli", "zz\r\nhello\r\n0\r\n\r\n")]
    [InlineData("/hash", "zz\r\nhello\r\n0\r\n\r\n")]
    [InlineData("/wagi", "5\r\nhello\r\n5\r\nworldXX0\r\n\r\n")] // no CRLF after the data
    [InlineData("/wagi-cli", "5\r\nhello\r\n5\r\nworldXX0\r\n\r\n")]
    [InlineData("/hash", "5\r\nhello\r\n5\r\nworldXX0\r\n\r\n")]
    [InlineData("/wagi", "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")] // size overflows
    [InlineData("/hash", "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")]
    public async Task A_malformed_chunked_body_is_a_400(string route, string chunks)
    {
        using var app = new TestApp(Manifest);
        var log = new CapturedLog();
        await using var host = await StartAsync(app, log);
        var reply = await RawAsync(host.BaseUrl, Encoding.ASCII.GetBytes(
            $"POST {route} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}"));
        Assert.Equal(400, reply.Status);
        Assert.DoesNotContain(log.Lines, l => l.StartsWith("Error", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/count", true)]
    [InlineData("/count-cli", true)]
    [InlineData("/hash", true)]
    [InlineData("/wagi", false)]
    [InlineData("/wagi-cli", false)]
    public async Task A_body_that_stops_arriving_is_never_answered_as_complete(string route, bool answersAfterReading)
    {
        // 100,000 bytes announced, 100 sent, then nothing: after Kestrel's minimum-data-rate grace (5 s) the body
        // read fails. Whatever the guest makes of the read error (count takes it for the end of input, StarlingMonkey
        // answers 500), the client gets a 408 if nothing was sent yet, else a response cut short (echo already
        // streamed its head and the 100 bytes); never a complete answer made from 100 bytes.
        using var app = new TestApp(Manifest);
        var log = new CapturedLog();
        await using var host = await StartAsync(app, log);
        var request = Encoding.ASCII.GetBytes($"POST {route} HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n{new string('a', 100)}");
        var reply = await RawAsync(host.BaseUrl, request);
        if (answersAfterReading)
            Assert.True(reply is { Status: 408, Complete: true }, $"answered {reply}; log:\n{log.Text}");
        else
            Assert.True(reply.Status == 408 || !reply.Complete, $"answered {reply.Status} with a complete body");
    }

    [Theory]
    [InlineData("/wagi")]
    [InlineData("/wagi-cli")]
    [InlineData("/hash")]
    public async Task Over_max_request_body_size_a_declared_length_is_a_413_before_anything_is_read(string route)
    {
        using var app = new TestApp(Manifest);
        await using var host = await StartAsync(app, maxRequestBodySize: Block);
        // Only the head is sent: the answer comes without waiting for the body.
        var reply = await RawAsync(host.BaseUrl, Encoding.ASCII.GetBytes(
            $"POST {route} HTTP/1.1\r\nHost: test\r\nContent-Length: {Block + 1}\r\n\r\n"));
        Assert.Equal(413, reply.Status);

        // A well-behaved client (Expect: 100-continue) gets the same without sending its body.
        using var client = TestApp.Client(host.BaseUrl);
        using var content = new StreamContent(new GeneratedBody(2 * Block, seed: 4));
        content.Headers.ContentLength = 2 * Block;
        using var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = content };
        request.Headers.ExpectContinue = true;
        using var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData("/wagi")]
    [InlineData("/wagi-cli")]
    [InlineData("/hash")]
    public async Task Over_max_request_body_size_a_chunked_body_is_a_413(string route)
    {
        using var app = new TestApp(Manifest);
        var log = new CapturedLog();
        await using var host = await StartAsync(app, log, maxRequestBodySize: Block);
        var chunk = new byte[64 * 1024];
        chunk.AsSpan().Fill((byte)'x');
        var body = new MemoryStream();
        body.Write(Encoding.ASCII.GetBytes($"POST {route} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"));
        for (var i = 0; i < 2 * Block / chunk.Length; i++)
        {
            body.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
            body.Write(chunk);
            body.Write("\r\n"u8);
        }
        body.Write("0\r\n\r\n"u8);
        var reply = await RawAsync(host.BaseUrl, body.ToArray());
        Assert.Equal(413, reply.Status);
        Assert.DoesNotContain(log.Lines, l => l.StartsWith("Error", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/wagi")]
    [InlineData("/wagi-cli")]
    [InlineData("/hash")]
    public async Task A_body_of_exactly_max_request_body_size_is_served(string route)
    {
        using var app = new TestApp(Manifest);
        await using var host = await StartAsync(app, maxRequestBodySize: Block);
        using var client = TestApp.Client(host.BaseUrl);
        var body = new GeneratedBody(Block, seed: 5);
        if (route == "/hash")
        {
            var answer = await PostHashAsync(client, body);
            Assert.Equal(body.ExpectedAnswerAfterSend(), answer);
            return;
        }
        using var content = new StreamContent(body);
        content.Headers.ContentLength = Block;
        using var response = await client.PostAsync(route, content, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echoed = await response.Content.ReadAsByteArrayAsync(Ct);
        var expected = new byte[Block];
        new GeneratedBody(Block, seed: 5).ReadExactly(expected);
        Assert.True(expected.AsSpan().SequenceEqual(echoed), $"echo of {echoed.Length} bytes differs");
    }

    [Theory]
    [InlineData("-1", "--max-request-body-size: -1 is not a number of bytes")]
    [InlineData("lots", "lots")]
    public async Task A_bad_max_request_body_size_flag_is_reported(string value, string message)
    {
        using var app = new TestApp(Manifest);
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await SpindleCommandLine.RunAsync(
            ["up", "-f", app.ManifestPath, "--listen", "127.0.0.1:0", "--max-request-body-size", value], runtime.Executors(), output, error);
        Assert.NotEqual(0, code);
        Assert.Contains(message, error.ToString());
    }

    private static async Task<string> PostHashAsync(HttpClient client, GeneratedBody body)
    {
        using var content = new StreamContent(body, 64 * 1024);
        content.Headers.ContentLength = body.Length;
        using var response = await client.PostAsync("/hash", content, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return text;
    }

    private sealed record RawReply(int Status, bool Complete);

    /// <summary>
    /// Sends <paramref name="request"/> as raw bytes (while reading, so a server answering early is heard) and
    /// reads the status and whether the body ended properly (Content-Length reached or the last chunk seen).
    /// </summary>
    private static async Task<RawReply> RawAsync(Uri baseUrl, byte[] request)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(baseUrl.Host, baseUrl.Port, timeout.Token);
        var stream = tcp.GetStream();
        var send = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(request, timeout.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // The server answered and closed before taking everything: what it said is still read below.
            }
        }, CancellationToken.None);

        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, n);
                if (TryParse(received.ToArray()) is { Complete: true } done)
                    return done;
            }
        }
        catch (IOException) when (received.Length > 0)
        {
            // reset after (part of) the response
        }
        await send;
        return TryParse(received.ToArray()) ?? throw new InvalidDataException(
            $"no HTTP response, got {received.Length} bytes: {Encoding.ASCII.GetString(received.ToArray())}");
    }

    private static RawReply? TryParse(byte[] data)
    {
        var end = data.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0) return null;
        var lines = Encoding.ASCII.GetString(data, 0, end).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1]);
        var body = data.AsSpan(end + 4);
        string? Header(string name) => lines.Skip(1).Select(l => l.Split(':', 2))
            .FirstOrDefault(p => p[0].Trim().Equals(name, StringComparison.OrdinalIgnoreCase))?[1].Trim();
        if (Header("Content-Length") is { } length)
            return new RawReply(status, body.Length >= long.Parse(length));
        if (Header("Transfer-Encoding") is { } te && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            // Walks the chunks: complete only when the zero-size chunk and its CRLF arrived.
            while (true)
            {
                var lineEnd = body.IndexOf("\r\n"u8);
                if (lineEnd < 0) return new RawReply(status, false);
                var size = Convert.ToInt64(Encoding.ASCII.GetString(body[..lineEnd]).Split(';')[0].Trim(), 16);
                if (size == 0) return new RawReply(status, body[(lineEnd + 2)..].IndexOf("\r\n"u8) >= 0);
                if (body.Length < lineEnd + 2 + size + 2) return new RawReply(status, false);
                body = body[(int)(lineEnd + 2 + size + 2)..];
            }
        }
        return new RawReply(status, status is 204 or 304 || (status >= 100 && status < 200));
    }

    /// <summary>
    /// A deterministic pseudo-random body of a given length, produced as it is read (never held whole), which
    /// also computes what upload-stream-sha256.js answers for it: the length and the SHA-256 over the SHA-256
    /// of each 1 MiB block. Still usable once the content that sent it disposed it.
    /// </summary>
    private sealed class GeneratedBody(long length, ulong seed) : Stream
    {
        private ulong _state = seed * 0x9E3779B97F4A7C15UL + 1;
        private long _position;
        private readonly IncrementalHash _block = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly IncrementalHash _top = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private int _inBlock;

        public override long Length => length;

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            var span = buffer[..n];
            for (var i = 0; i < span.Length; i++)
            {
                if ((_position + i) % 8 == 0)
                {
                    _state ^= _state << 13;
                    _state ^= _state >> 7;
                    _state ^= _state << 17;
                }
                span[i] = (byte)(_state >> (int)((_position + i) % 8 * 8));
            }
            for (var at = 0; at < n;)
            {
                var take = Math.Min(Block - _inBlock, n - at);
                _block.AppendData(span.Slice(at, take));
                _inBlock += take;
                at += take;
                if (_inBlock == Block) EndBlock();
            }
            _position += n;
            return n;
        }

        /// <summary>The hash guest's answer for everything read so far (read the whole body first).</summary>
        public string ExpectedAnswerAfterSend()
        {
            Assert.Equal(length, _position);
            if (_inBlock > 0) EndBlock();
            return $"{length} {Convert.ToHexStringLower(_top.GetHashAndReset())}\n";
        }

        private void EndBlock()
        {
            _top.AppendData(_block.GetHashAndReset());
            _inBlock = 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
