using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using Spindle.Components.Values;
using Spindle.Wasi.Preview2.Io;
using static Spindle.Wasi.Tests.HostCalls;

namespace Spindle.Wasi.Tests;

public class StreamsTests
{
    private const string Streams = "wasi:io/streams";
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static byte[] OkBytes(object? result)
    {
        var r = Assert.IsType<ResultValue>(result);
        Assert.True(r.IsOk, $"expected ok, got {r}");
        return Assert.IsType<byte[]>(r.Value);
    }

    private static bool IsClosed(object? result) =>
        result is ResultValue { IsOk: false, Value: VariantValue { Case: 1 } };

    [Fact]
    public void Read_returns_available_bytes_then_closed()
    {
        var input = InputStream.FromBytes(Encoding.ASCII.GetBytes("hello world"));
        Assert.Equal("hello", Encoding.ASCII.GetString(OkBytes(Call(Streams, "[method]input-stream.read", null, input, 5UL))));
        Assert.Equal(6UL, ((ResultValue)Call(Streams, "[method]input-stream.skip", null, input, 100UL)!).Value);
        var end = Call(Streams, "[method]input-stream.read", null, input, 5UL);
        Assert.True(IsClosed(end), $"got {end}");
        Assert.True(IsClosed(Call(Streams, "[method]input-stream.read", null, input, 5UL)));
    }

    [Fact]
    public async Task Blocking_read_waits_for_data_written_later_and_read_does_not_wait()
    {
        var pipe = new Pipe();
        var input = new PipeInputStream(pipe.Reader);
        Assert.Empty(OkBytes(Call(Streams, "[method]input-stream.read", null, input, 10UL)));
        var pollable = Assert.IsAssignableFrom<Pollable>(Call(Streams, "[method]input-stream.subscribe", null, input));
        Assert.False((bool)Call("wasi:io/poll", "[method]pollable.ready", null, pollable)!);

        var pending = CallAsync(Streams, "[method]input-stream.blocking-read", null, Ct, input, 10UL);
        Assert.False(pending.IsCompleted);
        await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes("abc"), Ct);
        Assert.Equal("abc", Encoding.ASCII.GetString(OkBytes(await pending)));

        await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes("de"), Ct);
        await ((Pollable)Call(Streams, "[method]input-stream.subscribe", null, input)!).WaitAsync(Ct);
        Assert.Equal("de", Encoding.ASCII.GetString(OkBytes(Call(Streams, "[method]input-stream.read", null, input, 10UL))));
        await pipe.Writer.CompleteAsync();
        Assert.True(IsClosed(await CallAsync(Streams, "[method]input-stream.blocking-read", null, Ct, input, 10UL)));
    }

    [Fact]
    public async Task Failed_source_gives_last_operation_failed_with_an_error_resource()
    {
        var pipe = new Pipe();
        var input = new PipeInputStream(pipe.Reader);
        await pipe.Writer.CompleteAsync(new IOException("connection reset"));
        var result = Assert.IsType<ResultValue>(await CallAsync(Streams, "[method]input-stream.blocking-read", null, Ct, input, 10UL));
        var error = Assert.IsType<VariantValue>(result.Value);
        Assert.Equal(0, error.Case);
        var io = Assert.IsType<IoError>(error.Payload);
        Assert.Equal("connection reset", Call("wasi:io/error", "[method]error.to-debug-string", null, io));
        Assert.True(IsClosed(Call(Streams, "[method]input-stream.read", null, input, 1UL)));
    }

    [Fact]
    public async Task Output_stream_applies_backpressure_until_the_reader_drains()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 100, resumeWriterThreshold: 50, useSynchronizationContext: false));
        var output = new PipeOutputStream(pipe.Writer, budget: 64);
        var permit = (ResultValue)Call(Streams, "[method]output-stream.check-write", null, output)!;
        Assert.Equal(64UL, permit.Value);
        Assert.True(((ResultValue)Call(Streams, "[method]output-stream.write", null, output, new byte[64])!).IsOk);
        Assert.True(((ResultValue)Call(Streams, "[method]output-stream.write", null, output, new byte[0])!).IsOk);
        Assert.True(((ResultValue)Call(Streams, "[method]output-stream.check-write", null, output)!).IsOk);
        // 64 bytes are below the pause threshold: the flush completed; a second write crosses it.
        Assert.True(((ResultValue)Call(Streams, "[method]output-stream.write", null, output, new byte[64])!).IsOk);
        Assert.Equal(0UL, ((ResultValue)Call(Streams, "[method]output-stream.check-write", null, output)!).Value);
        var pollable = (Pollable)Call(Streams, "[method]output-stream.subscribe", null, output)!;
        Assert.False(pollable.IsReady);

        var read = await pipe.Reader.ReadAsync(Ct);
        Assert.Equal(128, read.Buffer.Length);
        pipe.Reader.AdvanceTo(read.Buffer.End);
        await pollable.WaitAsync(Ct);
        Assert.Equal(64UL, ((ResultValue)Call(Streams, "[method]output-stream.check-write", null, output)!).Value);

        // Writing past the budget is an error, not a crash.
        var tooBig = (ResultValue)Call(Streams, "[method]output-stream.write", null, output, new byte[65])!;
        Assert.Equal(0, ((VariantValue)tooBig.Value!).Case);
    }

    [Fact]
    public async Task Blocking_write_and_flush_waits_for_the_reader_and_sees_closed_when_it_leaves()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 10, resumeWriterThreshold: 5, useSynchronizationContext: false));
        var output = new PipeOutputStream(pipe.Writer, budget: 8);
        var data = Encoding.ASCII.GetBytes("0123456789abcdefghij");
        var write = CallAsync(Streams, "[method]output-stream.blocking-write-and-flush", null, Ct, output, data);
        var received = new MemoryStream();
        while (received.Length < data.Length)
        {
            var r = await pipe.Reader.ReadAsync(Ct);
            foreach (var seg in r.Buffer) received.Write(seg.Span);
            pipe.Reader.AdvanceTo(r.Buffer.End);
        }
        Assert.True(((ResultValue)(await write)!).IsOk);
        Assert.Equal(data, received.ToArray());

        await pipe.Reader.CompleteAsync();
        var closed = await CallAsync(Streams, "[method]output-stream.blocking-write-and-flush", null, Ct, output, data);
        Assert.True(IsClosed(closed));
    }

    [Fact]
    public void Splice_moves_available_bytes()
    {
        var input = InputStream.FromBytes(Encoding.ASCII.GetBytes("spliced"));
        var pipe = new Pipe();
        var output = new PipeOutputStream(pipe.Writer);
        var r = (ResultValue)Call(Streams, "[method]output-stream.splice", null, output, input, 100UL)!;
        Assert.Equal(7UL, r.Value);
        Assert.True(pipe.Reader.TryRead(out var read));
        Assert.Equal("spliced", Encoding.ASCII.GetString(read.Buffer.ToArray()));
    }

    [Fact]
    public async Task Poll_returns_the_indices_of_ready_pollables()
    {
        var never = new TaskCompletionSource();
        var later = new TaskCompletionSource();
        var pollables = new object?[] { Pollable.FromTask(never.Task), Pollable.Ready(), Pollable.FromTask(later.Task), Pollable.Ready() };
        var ready = Assert.IsType<object?[]>(await CallAsync("wasi:io/poll", "poll", null, Ct, (object)pollables));
        Assert.Equal([1u, 3u], ready.Cast<uint>());

        var waiting = CallAsync("wasi:io/poll", "poll", null, Ct, (object)new object?[] { Pollable.FromTask(never.Task), Pollable.FromTask(later.Task) });
        Assert.False(waiting.IsCompleted);
        later.SetException(new InvalidOperationException("a faulted task still only means ready"));
        Assert.Equal([1u], Assert.IsType<object?[]>(await waiting).Cast<uint>());
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await CallAsync("wasi:io/poll", "poll", null, Ct, (object)Array.Empty<object?>()));
    }

    [Fact]
    public async Task Poll_of_a_single_pollable_waits_for_it_and_stops_on_cancellation()
    {
        var later = new TaskCompletionSource();
        var waiting = CallAsync("wasi:io/poll", "poll", null, Ct, (object)new object?[] { Pollable.FromTask(later.Task) });
        Assert.False(waiting.IsCompleted);
        later.SetException(new InvalidOperationException("a faulted task still only means ready"));
        Assert.Equal([0u], Assert.IsType<object?[]>(await waiting).Cast<uint>());

        using var cancel = new CancellationTokenSource();
        var never = CallAsync("wasi:io/poll", "poll", null, cancel.Token, (object)new object?[] { Pollable.FromTask(new TaskCompletionSource().Task) });
        Assert.False(never.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await never);
    }

    [Fact]
    public async Task Clock_subscriptions_resolve_after_the_duration_without_holding_threads()
    {
        var clocks = "wasi:clocks/monotonic-clock";
        var start = (ulong)Call(clocks, "now", null)!;
        var p = Assert.IsAssignableFrom<Pollable>(Call(clocks, "subscribe-duration", null, 50_000_000UL));
        Assert.False(p.IsReady);
        var sw = Stopwatch.StartNew();
        // 200 guests blocked at once: done in about one duration, so none of them holds a thread.
        var blocks = Enumerable.Range(0, 200)
            .Select(_ => CallAsync("wasi:io/poll", "[method]pollable.block", null, Ct, Call(clocks, "subscribe-duration", null, 50_000_000UL)).AsTask())
            .ToArray();
        await Task.WhenAll(blocks);
        await CallAsync("wasi:io/poll", "[method]pollable.block", null, Ct, p);
        Assert.True(p.IsReady);
        Assert.True(sw.ElapsedMilliseconds >= 45, $"woke after {sw.ElapsedMilliseconds} ms");
        Assert.True(sw.ElapsedMilliseconds < 2000, $"took {sw.ElapsedMilliseconds} ms");
        Assert.True((ulong)Call(clocks, "now", null)! - start >= 50_000_000UL);

        var instant = (Pollable)Call(clocks, "subscribe-instant", null, start)!;
        Assert.True(instant.IsReady);
        var huge = (Pollable)Call(clocks, "subscribe-duration", null, ulong.MaxValue)!;
        Assert.False(huge.IsReady);
    }

    [Fact]
    public void Wall_clock_is_close_to_now()
    {
        var dt = Assert.IsType<object?[]>(Call("wasi:clocks/wall-clock", "now", null));
        var seconds = (ulong)dt[0]!;
        Assert.InRange((long)seconds, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 2, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 2);
        Assert.InRange((uint)dt[1]!, 0u, 999_999_999u);
    }
}
