using System.Buffers;
using System.IO.Pipelines;

namespace Spindle.Wasi.Preview2.Io;

/// <summary>
/// A <c>wasi:io/streams.output-stream</c>. Non-waiting operations follow the WASI contract
/// (<c>check-write</c> grants a budget, <c>write</c> spends it, <c>flush</c> starts a flush);
/// the blocking ones are built on <see cref="WaitWritableAsync"/>.
/// </summary>
public abstract class OutputStream : IDisposable
{
    /// <summary>How many bytes <see cref="Write"/> accepts now (0 while a flush is in progress), or an error.</summary>
    public abstract (ulong Permit, StreamError? Error) CheckWrite();

    /// <summary>Writes bytes the last <see cref="CheckWrite"/> allowed.</summary>
    public abstract StreamError? Write(ReadOnlySpan<byte> data);

    /// <summary>Starts flushing what was written.</summary>
    public abstract StreamError? Flush();

    /// <summary>True when <see cref="CheckWrite"/> would return a non-zero budget or an error.</summary>
    public abstract bool IsWritable { get; }

    /// <summary>Completes when <see cref="IsWritable"/> is true.</summary>
    public abstract ValueTask WaitWritableAsync(CancellationToken cancellation);

    /// <summary>A pollable for writability (<c>subscribe</c>).</summary>
    public Pollable Subscribe() => new WritablePollable(this);

    // One object per subscribe (guests subscribe per write): no delegates bound to the stream.
    private sealed class WritablePollable(OutputStream stream) : Pollable
    {
        public override bool IsReady => stream.IsWritable;
        public override ValueTask WaitAsync(CancellationToken cancellation) => stream.IsWritable ? default : stream.WaitWritableAsync(cancellation);
    }

    /// <summary><c>blocking-write-and-flush</c>: writes all of <paramref name="data"/> as budget allows, then flushes.</summary>
    public async ValueTask<StreamError?> BlockingWriteAndFlushAsync(ReadOnlyMemory<byte> data, CancellationToken cancellation)
    {
        var offset = 0;
        while (offset < data.Length)
        {
            await WaitWritableAsync(cancellation).ConfigureAwait(false);
            var (permit, error) = CheckWrite();
            if (error is not null)
                return error;
            if (permit == 0)
                continue;
            var n = (int)Math.Min(permit, (ulong)(data.Length - offset));
            if (Write(data.Span.Slice(offset, n)) is { } writeError)
                return writeError;
            offset += n;
        }
        return await BlockingFlushAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary><c>blocking-flush</c>: flushes and waits until the flush is done.</summary>
    public async ValueTask<StreamError?> BlockingFlushAsync(CancellationToken cancellation)
    {
        if (Flush() is { } error)
            return error;
        await WaitWritableAsync(cancellation).ConfigureAwait(false);
        return CheckWrite().Error;
    }

    /// <summary>Releases what the stream holds (called when the guest drops it or the store ends).</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>
/// The back-pressure state machine of an output stream whose writes start a flush toward a slower reader (a
/// client socket): <c>check-write</c> grants <c>budget</c> bytes while no flush is pending and nothing while one
/// is, so a slow reader suspends the guest through the stream's pollable instead of blocking a thread. The first
/// failure (a write that throws, a flush that faults, the reader gone) ends the stream with that error.
/// </summary>
/// <param name="budget">The most bytes granted by one <c>check-write</c>.</param>
public abstract class BackpressuredOutputStream(int budget) : OutputStream
{
    private Task<FlushResult>? _pendingFlush;
    private StreamError? _error;

    /// <summary>Why the stream failed (the first reason), or null; a stream closed by its reader has no failure.</summary>
    public string? Failure { get; private set; }

    /// <summary>The flush still in progress, or null.</summary>
    protected Task? PendingFlush => _pendingFlush;

    /// <summary>
    /// Passes <paramref name="data"/> to the destination and starts the flush the guest must wait for before
    /// writing more (a completed <c>default</c> when nothing needs to wait). A flush result that is completed or
    /// cancelled means the reader is gone: the stream is then closed. May throw: the stream fails with the message.
    /// </summary>
    protected abstract ValueTask<FlushResult> WriteCore(ReadOnlySpan<byte> data);

    /// <summary>The guest asked for a flush (the stream has no error).</summary>
    protected virtual void OnFlushRequested() { }

    /// <inheritdoc />
    public sealed override (ulong Permit, StreamError? Error) CheckWrite()
    {
        Observe();
        if (_error is not null)
            return (0, _error);
        return (_pendingFlush is null ? (ulong)budget : 0UL, null);
    }

    /// <inheritdoc />
    public sealed override StreamError? Write(ReadOnlySpan<byte> data)
    {
        Observe();
        if (_error is not null)
            return _error;
        if (_pendingFlush is not null)
            return Fail("write while a flush is in progress (check-write granted no budget)");
        if (data.Length > budget)
            return Fail($"write of {data.Length} bytes exceeds the check-write budget of {budget}");
        if (data.IsEmpty)
            return null;
        try
        {
            var flush = WriteCore(data);
            if (flush.IsCompletedSuccessfully)
                Apply(flush.Result);
            else
                _pendingFlush = flush.AsTask();
        }
        catch (Exception e)
        {
            return Fail(e.Message);
        }
        Observe();
        return _error;
    }

    /// <inheritdoc />
    public sealed override StreamError? Flush()
    {
        Observe();
        if (_error is null)
            OnFlushRequested();
        return _error;
    }

    /// <inheritdoc />
    public sealed override bool IsWritable
    {
        get
        {
            Observe();
            return _error is not null || _pendingFlush is null;
        }
    }

    /// <inheritdoc />
    public sealed override ValueTask WaitWritableAsync(CancellationToken cancellation) =>
        _pendingFlush is { IsCompleted: false } pending ? new(Task.WhenAny(pending).WaitAsync(cancellation)) : default;

    /// <summary>Ends the stream: later operations answer <c>closed</c> (an earlier error stays).</summary>
    protected void Close() => _error ??= StreamError.Closed;

    /// <summary>Takes in the outcome of a flush that has completed.</summary>
    protected void Observe()
    {
        if (_pendingFlush is not { IsCompleted: true } done)
            return;
        _pendingFlush = null;
        if (done.IsCompletedSuccessfully)
            Apply(done.Result);
        else
            Fail(done.Exception?.InnerException?.Message ?? "the flush was cancelled");
    }

    // The reader completing (client gone) closes the stream.
    private void Apply(FlushResult result)
    {
        if (result.IsCompleted || result.IsCanceled)
            Close();
    }

    private StreamError Fail(string reason)
    {
        Failure ??= reason;
        return _error ??= StreamError.Failed(reason);
    }
}

/// <summary>
/// An output stream into a <see cref="PipeWriter"/>. Each write is flushed at once; while the flush waits for
/// the reader (backpressure) <c>check-write</c> answers 0 and the pollable is not ready.
/// </summary>
/// <param name="writer">The destination.</param>
/// <param name="budget">The most bytes granted by one <c>check-write</c>.</param>
/// <param name="flushed">Called when the guest flushes: whoever reads the pipe should pass on what it holds now.</param>
public sealed class PipeOutputStream(PipeWriter writer, int budget = 64 * 1024, Action? flushed = null) : BackpressuredOutputStream(budget)
{
    private bool _completed;

    /// <summary>True once <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => _completed;

    /// <inheritdoc />
    protected override ValueTask<FlushResult> WriteCore(ReadOnlySpan<byte> data)
    {
        writer.Write(data);
        return writer.FlushAsync();
    }

    /// <inheritdoc />
    protected override void OnFlushRequested() => flushed?.Invoke();

    /// <summary>Ends the stream (the writer is completed once any pending flush finishes).</summary>
    public void Complete(Exception? error = null)
    {
        if (_completed)
            return;
        _completed = true;
        Close();
        if (PendingFlush is { IsCompleted: false } pending)
            pending.ContinueWith(_ => writer.Complete(error), TaskScheduler.Default);
        else
            writer.Complete(error);
    }
}
