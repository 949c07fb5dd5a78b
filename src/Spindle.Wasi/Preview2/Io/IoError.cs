using Spindle.Components.Values;

namespace Spindle.Wasi.Preview2.Io;

/// <summary>A <c>wasi:io/error.error</c> resource: what failed, for <c>to-debug-string</c> and for <c>http-error-code</c>.</summary>
public sealed class IoError(string message, object? httpErrorCode = null)
{
    /// <summary>The human-readable description.</summary>
    public string Message { get; } = message;

    /// <summary>A <c>wasi:http/types.error-code</c> value (a <see cref="VariantValue"/>) when the error came from HTTP, else null.</summary>
    public object? HttpErrorCode { get; } = httpErrorCode;

    /// <inheritdoc />
    public override string ToString() => Message;
}

/// <summary>
/// A failed stream operation: <c>closed</c>, or <c>last-operation-failed(error)</c>. Converts to the
/// <c>stream-error</c> variant value.
/// </summary>
public sealed class StreamError
{
    private StreamError(IoError? error) => Error = error;

    /// <summary>The stream is closed: no more data will be read or accepted.</summary>
    public static readonly StreamError Closed = new(null);

    /// <summary>The last operation failed; the stream is closed afterwards.</summary>
    public static StreamError Failed(string message, object? httpErrorCode = null) => new(new IoError(message, httpErrorCode));

    /// <summary>The error of a failed operation, or null for <see cref="Closed"/>.</summary>
    public IoError? Error { get; }

    /// <summary>True for <see cref="Closed"/>.</summary>
    public bool IsClosed => Error is null;

    /// <summary>The <c>stream-error</c> variant value (case 0 <c>last-operation-failed</c>, case 1 <c>closed</c>).</summary>
    public VariantValue ToValue() => Error is null ? new VariantValue(1) : new VariantValue(0, Error);

    /// <summary><c>result::err(stream-error)</c>.</summary>
    public ResultValue ToResult() => ResultValue.Err(ToValue());

    /// <inheritdoc />
    public override string ToString() => Error is null ? "closed" : $"last-operation-failed({Error.Message})";
}
