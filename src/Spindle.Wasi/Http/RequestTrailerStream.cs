using System.Net;

namespace Spindle.Wasi.Http;

/// <summary>
/// An HTTP/1.1 connection's plaintext stream (under TLS, over the socket) that sends a guest request's trailers:
/// <c>SocketsHttpHandler</c> ends a chunked body with an empty last chunk (<c>0 CRLF CRLF</c>) and offers no way to
/// add trailers to it, so this stream replaces that chunk with one carrying them. It knows the chunk by position, not
/// by content alone: <see cref="GuestRequestContent"/> flushes everything before it and only then hands out its
/// trailers, so the first write of exactly those five bytes after that, in the same request's flow, is the chunk.
/// Every other byte passes through unchanged. Install with <see cref="Filter"/>.
/// </summary>
public sealed class RequestTrailerStream(Stream inner) : Stream
{
    private static ReadOnlySpan<byte> EmptyLastChunk => "0\r\n\r\n"u8;

    /// <summary>
    /// A <see cref="SocketsHttpHandler.PlaintextStreamFilter"/>: wraps HTTP/1.1 connections; HTTP/2 connections are
    /// left alone (frames, and .NET's client sends no request trailers there).
    /// </summary>
    public static ValueTask<Stream> Filter(SocketsHttpPlaintextStreamFilterContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(context.NegotiatedHttpVersion == HttpVersion.Version11 ? new RequestTrailerStream(context.PlaintextStream) : context.PlaintextStream);

    /// <summary>The chunk to write instead of <paramref name="buffer"/>, when it is the last chunk of a request with trailers.</summary>
    private static byte[]? LastChunkFor(ReadOnlySpan<byte> buffer)
    {
        if (GuestRequestContent.Sending is not { } content)
            return null;
        content.OnHttp11Connection = true;
        return buffer.SequenceEqual(EmptyLastChunk) ? content.TakeLastChunk() : null;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(LastChunkFor(buffer.Span) is { } chunk ? chunk : buffer, cancellationToken);

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(LastChunkFor(buffer) is { } chunk ? chunk : buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();

    public override bool CanRead => inner.CanRead;
    public override bool CanWrite => inner.CanWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
