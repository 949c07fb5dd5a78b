using Spindle.Wasi.Preview2.Io;

namespace Spindle.Trigger.Http.Executors.Wagi;

/// <summary>
/// A Wagi component's <c>wasi:cli/stdout</c>: a WASI 0.2 output stream over the same CGI parser and response
/// writer the core-module path uses (<see cref="WagiResponseWriter"/>). A write goes to the writer at once; when
/// the writer wants a flush (response started, body bytes written) the flush runs in the background and
/// <c>check-write</c> grants nothing until it completes, so client backpressure suspends the guest through the
/// stream's pollable instead of blocking a thread.
/// </summary>
/// <remarks>
/// One instance serves the whole request: every <c>get-stdout</c> returns it, and the guest dropping a handle
/// does not end it (<see cref="Dispose"/> does nothing); the executor owns it.
/// </remarks>
public sealed class WagiStdoutStream : OutputStream
{
    // What one check-write grants: the guest writes at most this much before the next flush is awaited.
    private const int Budget = 64 * 1024;

    private readonly WagiResponseWriter _writer;
    private readonly CancellationToken _cancellation;
    private Task? _pendingFlush;
    private StreamError? _error;

    /// <summary>Creates the stream for one response.</summary>
    /// <param name="writer">The CGI response writer.</param>
    /// <param name="cancellation">Ends a flush waiting on the client (request timeout, client gone).</param>
    public WagiStdoutStream(WagiResponseWriter writer, CancellationToken cancellation)
    {
        _writer = writer;
        _cancellation = cancellation;
    }

    /// <summary>Why writing to the response failed (client gone, body larger than a declared content-length), or null.</summary>
    public string? Failure { get; private set; }

    /// <inheritdoc />
    public override (ulong Permit, StreamError? Error) CheckWrite()
    {
        Observe();
        if (_error is not null)
            return (0, _error);
        return (_pendingFlush is null ? (ulong)Budget : 0UL, null);
    }

    /// <inheritdoc />
    public override StreamError? Write(ReadOnlySpan<byte> data)
    {
        Observe();
        if (_error is not null)
            return _error;
        if (_pendingFlush is not null)
            return Fail("write while a flush is in progress (check-write granted no budget)");
        if (data.Length > Budget)
            return Fail($"write of {data.Length} bytes exceeds the check-write budget of {Budget}");
        try
        {
            _writer.Write(data);
            if (_writer.FlushPending)
                Track(_writer.FlushAsync(_cancellation));
        }
        catch (IOException e)
        {
            return Fail(e.Message);
        }
        return _error;
    }

    /// <inheritdoc />
    public override StreamError? Flush()
    {
        Observe();
        return _error;
    }

    /// <inheritdoc />
    public override bool IsWritable
    {
        get
        {
            Observe();
            return _error is not null || _pendingFlush is null;
        }
    }

    /// <inheritdoc />
    public override ValueTask WaitWritableAsync(CancellationToken cancellation) =>
        _pendingFlush is { IsCompleted: false } pending ? new(Task.WhenAny(pending).WaitAsync(cancellation)) : default;

    /// <summary>Waits for a flush still in progress when the guest ends (its outcome is then in <see cref="Failure"/>).</summary>
    public async Task DrainAsync()
    {
        if (_pendingFlush is { } pending)
            await Task.WhenAny(pending).ConfigureAwait(false);
        Observe();
    }

    /// <summary>Does nothing: the stream outlives the guest's handles (see remarks).</summary>
    public override void Dispose() => GC.SuppressFinalize(this);

    private void Track(ValueTask flush)
    {
        if (flush.IsCompletedSuccessfully)
            return;
        _pendingFlush = flush.AsTask();
        Observe();
    }

    private void Observe()
    {
        if (_pendingFlush is not { IsCompleted: true } done)
            return;
        _pendingFlush = null;
        if (!done.IsCompletedSuccessfully)
            Fail(done.Exception?.InnerException?.Message ?? "the response flush was cancelled");
    }

    private StreamError Fail(string reason)
    {
        Failure ??= reason;
        return _error ??= StreamError.Failed(reason);
    }
}
