using System.Text;
using Microsoft.Extensions.Logging;

namespace Spindle.Wasi.Preview2.Io;

/// <summary>
/// Collects a component's stdout or stderr and logs it line by line (<see cref="GuestOutput"/>), tagged with the
/// component id. Shared by every <see cref="LogOutputStream"/> handed out for the same store, and behind preview1's
/// <see cref="Preview1.LoggerWasiOutput"/>.
/// </summary>
public sealed class LineLogger(ILogger logger, string componentId, string streamName, LogLevel level)
{
    // A line longer than this is logged in pieces so a guest cannot grow host memory without bound.
    private const int MaxLine = 16 * 1024;
    private readonly List<byte> _pending = [];
    private readonly Lock _lock = new();

    /// <summary>Adds bytes; logs every completed line.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            foreach (var b in data)
            {
                if (b == (byte)'\n')
                    EmitLocked();
                else
                {
                    _pending.Add(b);
                    if (_pending.Count >= MaxLine)
                        EmitLocked();
                }
            }
        }
    }

    /// <summary>Logs a trailing partial line, if any.</summary>
    public void FlushPartial()
    {
        lock (_lock)
            if (_pending.Count > 0)
                EmitLocked();
    }

    private void EmitLocked()
    {
        var count = _pending.Count;
        if (count > 0 && _pending[count - 1] == (byte)'\r')
            count--;
        var line = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending)[..count]);
        _pending.Clear();
        GuestOutput.Line(logger, level, componentId, streamName, line);
    }
}

/// <summary>The output stream a guest gets from <c>get-stdout</c>/<c>get-stderr</c>: never applies backpressure.</summary>
public sealed class LogOutputStream(LineLogger lines) : OutputStream
{
    private const int Budget = 1024 * 1024;

    /// <inheritdoc />
    public override (ulong Permit, StreamError? Error) CheckWrite() => (Budget, null);

    /// <inheritdoc />
    public override StreamError? Write(ReadOnlySpan<byte> data)
    {
        lines.Append(data);
        return null;
    }

    /// <inheritdoc />
    public override StreamError? Flush() => null;

    /// <inheritdoc />
    public override bool IsWritable => true;

    /// <inheritdoc />
    public override ValueTask WaitWritableAsync(CancellationToken cancellation) => default;
}

/// <summary>An output stream that accepts and discards everything.</summary>
public sealed class NullOutputStream : OutputStream
{
    /// <inheritdoc />
    public override (ulong Permit, StreamError? Error) CheckWrite() => (1024 * 1024, null);

    /// <inheritdoc />
    public override StreamError? Write(ReadOnlySpan<byte> data) => null;

    /// <inheritdoc />
    public override StreamError? Flush() => null;

    /// <inheritdoc />
    public override bool IsWritable => true;

    /// <inheritdoc />
    public override ValueTask WaitWritableAsync(CancellationToken cancellation) => default;
}
