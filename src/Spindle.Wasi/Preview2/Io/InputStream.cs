using System.Buffers;
using System.IO.Pipelines;

namespace Spindle.Wasi.Preview2.Io;

/// <summary>What a non-waiting read produced: bytes (possibly none yet), or an error.</summary>
public readonly record struct ReadOutcome(byte[] Data, StreamError? Error)
{
    /// <summary>Nothing available yet.</summary>
    public static ReadOutcome Empty => new([], null);
}

/// <summary>
/// A <c>wasi:io/streams.input-stream</c>. <see cref="Read"/> never waits; <see cref="WaitReadableAsync"/> completes
/// when a read would return data, end of stream or an error.
/// </summary>
public abstract class InputStream : IDisposable
{
    /// <summary>Reads up to <paramref name="max"/> bytes that are available now.</summary>
    public abstract ReadOutcome Read(int max);

    /// <summary>True when <see cref="Read"/> would return data, end of stream or an error.</summary>
    public abstract bool IsReadable { get; }

    /// <summary>Completes when <see cref="IsReadable"/> is true.</summary>
    public abstract ValueTask WaitReadableAsync(CancellationToken cancellation);

    /// <summary>A pollable for readability (<c>subscribe</c>).</summary>
    public Pollable Subscribe() => new ReadablePollable(this);

    // One object per subscribe (guests subscribe per read): no delegates bound to the stream.
    private sealed class ReadablePollable(InputStream stream) : Pollable
    {
        public override bool IsReady => stream.IsReadable;
        public override ValueTask WaitAsync(CancellationToken cancellation) => stream.IsReadable ? default : stream.WaitReadableAsync(cancellation);
    }

    /// <summary><c>blocking-read</c>: waits until at least one byte, end of stream or an error.</summary>
    public async ValueTask<ReadOutcome> BlockingReadAsync(int max, CancellationToken cancellation)
    {
        while (true)
        {
            var outcome = Read(max);
            if (outcome.Error is not null || outcome.Data.Length > 0 || max == 0)
                return outcome;
            await WaitReadableAsync(cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Releases what the stream holds (called when the guest drops it or the store ends).</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>An input stream with no data that is closed at once (<c>stdin</c> of a component).</summary>
    public static InputStream Empty() => new PipeInputStream(PipeReader.Create(ReadOnlySequence<byte>.Empty));

    /// <summary>An input stream over a fixed byte sequence.</summary>
    public static InputStream FromBytes(ReadOnlyMemory<byte> bytes) => new PipeInputStream(PipeReader.Create(new ReadOnlySequence<byte>(bytes)));
}

/// <summary>
/// An input stream over a <see cref="PipeReader"/> (Kestrel's <c>Request.BodyReader</c>, a <see cref="Pipe"/>),
/// reading only what has arrived: the body is never buffered whole.
/// </summary>
/// <param name="reader">The source.</param>
/// <param name="completeReaderOnDispose">Complete the reader when the guest drops the stream (not for Kestrel's body).</param>
/// <param name="errorCode">Maps a read failure to a <c>wasi:http</c> error-code value for <c>http-error-code</c>, or null.</param>
public sealed class PipeInputStream(PipeReader reader, bool completeReaderOnDispose = true, Func<Exception, object?>? errorCode = null) : InputStream
{
    private Task? _wait;
    private bool _closed;
    private Exception? _failure;

    /// <summary>Invoked once when the stream reaches its end (used by bodies to make trailers available).</summary>
    public event Action? Ended;

    /// <inheritdoc />
    public override ReadOutcome Read(int max)
    {
        if (_closed)
            return new([], StreamError.Closed);
        if (_failure is { } f)
            return Fail(f);
        if (_wait is not null)
        {
            // One ReadAsync may be outstanding for readiness; until it completes nothing has arrived.
            if (!_wait.IsCompleted)
                return ReadOutcome.Empty;
            _wait = null;
            if (_failure is { } f2)
                return Fail(f2);
        }

        ReadResult result;
        try
        {
            // Some readers (over a fixed sequence) answer TryRead false at the end; ReadAsync then completes at once.
            if (!reader.TryRead(out result))
            {
                var pending = reader.ReadAsync();
                if (!pending.IsCompleted)
                {
                    _wait = WaitCoreAsync(pending);
                    return ReadOutcome.Empty;
                }
                result = pending.Result;
            }
        }
        catch (Exception e)
        {
            return Fail(e);
        }

        var buffer = result.Buffer;
        if (buffer.IsEmpty || max == 0)
        {
            reader.AdvanceTo(buffer.Start);
            if (buffer.IsEmpty && (result.IsCompleted || result.IsCanceled))
                return End();
            return ReadOutcome.Empty;
        }

        var take = (int)Math.Min(max, buffer.Length);
        var data = buffer.Slice(0, take).ToArray();
        reader.AdvanceTo(buffer.GetPosition(take));
        return new(data, null);
    }

    /// <inheritdoc />
    public override bool IsReadable => _closed || _failure is not null || EnsureWait().IsCompleted;

    /// <inheritdoc />
    public override ValueTask WaitReadableAsync(CancellationToken cancellation) =>
        IsReadable ? default : new(Task.WhenAny(EnsureWait()).WaitAsync(cancellation));

    private Task EnsureWait()
    {
        if (_wait is null)
        {
            try
            {
                _wait = WaitCoreAsync(reader.ReadAsync());
            }
            catch (Exception e)
            {
                _failure = e;
                _wait = Task.CompletedTask;
            }
        }
        return _wait;
    }

    private async Task WaitCoreAsync(ValueTask<ReadResult> pending)
    {
        try
        {
            var result = await pending.ConfigureAwait(false);
            // Consume and examine nothing: the next TryRead sees the same data at once.
            reader.AdvanceTo(result.Buffer.Start);
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    private ReadOutcome End()
    {
        _closed = true;
        Ended?.Invoke();
        return new([], StreamError.Closed);
    }

    private ReadOutcome Fail(Exception e)
    {
        _closed = true;
        _failure = null;
        return new([], StreamError.Failed(e.Message, errorCode?.Invoke(e)));
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        if (completeReaderOnDispose)
        {
            // A readiness ReadAsync may still be pending: complete the reader once it returns.
            if (_wait is null || _wait.IsCompleted)
                reader.Complete();
            else
                _wait.ContinueWith(_ => reader.Complete(), TaskScheduler.Default);
        }
        base.Dispose();
    }
}
