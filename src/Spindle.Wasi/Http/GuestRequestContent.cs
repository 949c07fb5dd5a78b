using System.Net;
using System.Text;

namespace Spindle.Wasi.Http;

/// <summary>
/// The body of a guest's outgoing request as an <see cref="HttpContent"/>: streamed from the guest's pipe while the
/// request is in flight, then its trailers, which .NET's client has no API for. Over HTTP/1.1 they go in the final
/// chunk: <see cref="RequestTrailerStream"/>, under the connection, puts them where the handler writes its empty last
/// chunk. Over HTTP/2 .NET's client cannot send them at all, and a body with a <c>content-length</c> cannot carry
/// them: the request then fails with <c>internal-error</c> rather than losing them silently.
/// </summary>
public sealed class GuestRequestContent(OutgoingBody body) : HttpContent
{
    // The content whose request this flow is sending (set by HttpClientOutbound around SendAsync): the connection's
    // stream sees the handler's writes in the same flow, so this is how it knows whose final chunk it carries.
    private static readonly AsyncLocal<GuestRequestContent?> s_sending = new();

    private byte[]? _lastChunk;

    /// <summary>True when the guest already finished the body with trailers (so the request can ask for HTTP/1.1 up front).</summary>
    public bool HasTrailers => body.IsFinished && body.Trailers is { Entries.Count: > 0 };

    /// <summary>The content the current flow is sending, if it is a guest's.</summary>
    internal static GuestRequestContent? Sending => s_sending.Value;

    /// <summary>Marks this flow as sending this content (call in the async method that awaits the send).</summary>
    internal void MarkSending() => s_sending.Value = this;

    /// <summary>Set by <see cref="RequestTrailerStream"/> when this request's bytes went through an HTTP/1.1 connection.</summary>
    internal bool OnHttp11Connection { get; set; }

    /// <summary>
    /// The final chunk with the trailers, once the body ended with some: handed out once, to replace the handler's own
    /// empty one. Null otherwise.
    /// </summary>
    internal byte[]? TakeLastChunk() => Interlocked.Exchange(ref _lastChunk, null);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await body.Reader.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        if (body.Trailers is not { Entries.Count: > 0 } trailers)
            return;
        if (Headers.ContentLength is not null)
            throw new HttpErrorCodeException(HttpErrorCode.InternalError("request trailers need a chunked body, and this request has a content-length"));
        // Everything before the final chunk goes out now: the next write the connection makes for this request is
        // that chunk alone, which the trailer stream recognises. The flush also passes through the trailer stream
        // on HTTP/1.1, which marks this content as sent over it.
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (!OnHttp11Connection || !ReferenceEquals(Sending, this))
            throw new HttpErrorCodeException(HttpErrorCode.InternalError("request trailers cannot be sent over HTTP/2 by this host (its HTTP client has no request trailers); they can over HTTP/1.1"));
        _lastChunk = LastChunk(trailers);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            body.Reader.Complete();
        base.Dispose(disposing);
    }

    /// <summary><c>0 CRLF</c>, each trailer as <c>name: value CRLF</c>, then <c>CRLF</c> (RFC 9112 section 7.1.2).</summary>
    private static byte[] LastChunk(Fields trailers)
    {
        var size = 5;
        foreach (var (name, value) in trailers.Entries)
            size += name.Length + 2 + value.Length + 2;
        var chunk = new byte[size];
        "0\r\n"u8.CopyTo(chunk);
        var at = 3;
        foreach (var (name, value) in trailers.Entries)
        {
            // Fields holds only token names and values without CR or LF (Fields.IsValidName/IsValidValue), so a
            // guest cannot end the chunk early and smuggle a request onto the pooled connection: written as they are.
            at += Encoding.ASCII.GetBytes(name, chunk.AsSpan(at));
            ": "u8.CopyTo(chunk.AsSpan(at));
            at += 2;
            value.CopyTo(chunk.AsSpan(at));
            at += value.Length;
            "\r\n"u8.CopyTo(chunk.AsSpan(at));
            at += 2;
        }
        "\r\n"u8.CopyTo(chunk.AsSpan(at));
        return chunk;
    }
}
