using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Spindle.Wasi.Preview1;

/// <summary>
/// A guest's stdin. Reads never block a thread: <see cref="TryRead"/> returns what is buffered, and when it has
/// nothing the host awaits <see cref="WaitAsync"/> (the guest is suspended on its fiber meanwhile) and tries again.
/// </summary>
public interface IWasiInput
{
    /// <summary>Copies buffered bytes into <paramref name="destination"/>: the count (&gt;0), 0 at end of stream, or -1 when nothing is buffered yet.</summary>
    int TryRead(Span<byte> destination);

    /// <summary>Completes when <see cref="TryRead"/> has data or the end of the stream.</summary>
    ValueTask WaitAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A guest's stdout/stderr. <see cref="Write"/> takes bytes synchronously (the guest memory is only valid then);
/// when <see cref="FlushPending"/> is set the host awaits <see cref="FlushAsync"/> before returning to the guest,
/// which is where client backpressure is felt.
/// </summary>
public interface IWasiOutput
{
    /// <summary>Accepts bytes; throws <see cref="IOException"/> when the stream is closed.</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Whether <see cref="FlushAsync"/> must run before the write call returns to the guest.</summary>
    bool FlushPending { get; }

    /// <summary>Pushes buffered bytes to the destination, waiting for backpressure.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}

/// <summary>
/// stdin over a <see cref="PipeReader"/> (Kestrel's request <c>BodyReader</c>); bytes stay in the pipe until read.
/// Dispose it when the guest is done, so a read result it did not consume goes back to the pipe (Kestrel then
/// drains the rest of the body).
/// </summary>
public sealed class PipeReaderWasiInput(PipeReader reader) : IWasiInput, IDisposable
{
    private ReadOnlySequence<byte> _pending;
    private bool _holding; // a ReadResult not yet given back with AdvanceTo
    private bool _completed;

    /// <inheritdoc />
    public int TryRead(Span<byte> destination)
    {
        if (!_holding)
        {
            if (!reader.TryRead(out var result)) return _completed ? 0 : -1;
            Hold(result);
        }
        if (_pending.IsEmpty)
        {
            reader.AdvanceTo(_pending.End);
            _holding = false;
            return _completed ? 0 : -1;
        }
        var n = (int)Math.Min(destination.Length, _pending.Length);
        _pending.Slice(0, n).CopyTo(destination);
        _pending = _pending.Slice(n);
        reader.AdvanceTo(_pending.Start); // consumed up to here; the rest is returned again by TryRead
        _holding = false;
        return n;
    }

    /// <inheritdoc />
    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (_holding || _completed) return; // after completion TryRead drains the rest without waiting
        Hold(await reader.ReadAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Gives back a read result the guest did not consume.</summary>
    public void Dispose()
    {
        if (!_holding) return;
        _holding = false;
        reader.AdvanceTo(_pending.Start);
    }

    private void Hold(ReadResult result)
    {
        _pending = result.Buffer;
        _holding = true;
        if (result.IsCompleted || result.IsCanceled) _completed = true;
    }
}

/// <summary>stdin over fixed bytes (tests, buffered bodies).</summary>
public sealed class MemoryWasiInput(ReadOnlyMemory<byte> data) : IWasiInput
{
    private ReadOnlyMemory<byte> _rest = data;

    /// <summary>An empty stdin.</summary>
    public static MemoryWasiInput Empty => new(ReadOnlyMemory<byte>.Empty);

    /// <inheritdoc />
    public int TryRead(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _rest.Length);
        _rest.Span[..n].CopyTo(destination);
        _rest = _rest[n..];
        return n;
    }

    /// <inheritdoc />
    public ValueTask WaitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>Collects output in memory (tests, small captures).</summary>
public sealed class MemoryWasiOutput : IWasiOutput
{
    private readonly ArrayBufferWriter<byte> _buffer = new();

    /// <summary>Everything written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> data) => _buffer.Write(data);

    /// <inheritdoc />
    public bool FlushPending => false;

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>Discards output.</summary>
public sealed class NullWasiOutput : IWasiOutput
{
    /// <summary>The shared instance.</summary>
    public static NullWasiOutput Instance { get; } = new();

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> data) { }

    /// <inheritdoc />
    public bool FlushPending => false;

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>
/// stderr (or stdout, for a module whose stdout is not its response) as log lines (<see cref="GuestOutput"/>): bytes
/// are split at <c>\n</c>, a partial line is kept until the next newline or <see cref="Dispose"/>, and lines are
/// capped so a guest cannot grow host memory without bound (<see cref="Preview2.Io.LineLogger"/>).
/// </summary>
public sealed class LoggerWasiOutput(ILogger logger, string componentId, string stream = "stderr") : IWasiOutput, IDisposable
{
    private readonly Preview2.Io.LineLogger _lines = new(logger, componentId, stream, GuestOutput.LevelOf(stream));

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> data) => _lines.Append(data);

    /// <inheritdoc />
    public bool FlushPending => false;

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Logs a trailing partial line.</summary>
    public void Dispose() => _lines.FlushPartial();
}
