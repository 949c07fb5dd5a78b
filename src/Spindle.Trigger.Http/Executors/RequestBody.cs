using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Spindle.Components.Values;
using Spindle.Wasi.Http;

namespace Spindle.Trigger.Http.Executors;

/// <summary>
/// What a request body that cannot be read completely means for the answer. Kestrel reports a body the client got
/// wrong (malformed chunked framing, over <c>--max-request-body-size</c>, arriving too slowly) as a
/// <see cref="BadHttpRequestException"/> carrying the 4xx status to answer; a guest never sees such a body as
/// complete, and when nothing was sent yet the client gets that status rather than a 500.
/// </summary>
public static class RequestBody
{
    /// <summary>
    /// The 4xx to answer when reading the request body failed with <paramref name="failure"/>: Kestrel's status for
    /// what it rejects (400 malformed, 408 too slow, 413 too large), 400 for another I/O failure of the body (Kestrel
    /// reports a chunk size beyond 32 bits as a plain <see cref="IOException"/>); null for anything else.
    /// </summary>
    public static int? ClientErrorStatus(Exception? failure) => failure switch
    {
        BadHttpRequestException { StatusCode: >= 400 and < 500 } bad => bad.StatusCode,
        BadHttpRequestException => null,
        IOException => StatusCodes.Status400BadRequest,
        _ => null,
    };

    /// <summary>
    /// True when the request declares a <c>Content-Length</c> over the server's request-body limit
    /// (<see cref="IHttpMaxRequestBodySizeFeature"/>): it is answered 413 before any guest runs, as reading it
    /// would fail at once.
    /// </summary>
    public static bool DeclaredTooLarge(HttpContext http, out long limit)
    {
        limit = 0;
        if (http.Request.ContentLength is not { } length
            || http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize is not { } max)
            return false;
        limit = max;
        return length > max;
    }

    /// <summary>
    /// The wasi:http <c>error-code</c> a guest's body stream reports when the body cannot be read:
    /// <c>HTTP-request-body-size</c> for a body over the limit, <c>HTTP-protocol-error</c> otherwise.
    /// </summary>
    public static VariantValue ErrorCode(Exception failure) =>
        ClientErrorStatus(failure) == StatusCodes.Status413PayloadTooLarge
            ? HttpErrorCode.Of("HTTP-request-body-size")
            : HttpErrorCode.Of("HTTP-protocol-error");

    /// <summary>
    /// Reads a whole body of unknown length (chunked, HTTP/2 without <c>Content-Length</c>) into memory, for a Wagi
    /// module that must know <c>CONTENT_LENGTH</c> before it starts. A failed read throws a
    /// <see cref="BadHttpRequestException"/> with the status to answer (<see cref="ClientErrorStatus"/>; a body
    /// longer than an array can hold is a 413); nothing partial is returned.
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>> ReadAllAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int n;
        try
        {
            while ((n = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + n > Array.MaxLength)
                    throw new BadHttpRequestException(
                        $"Request body too large: a body without Content-Length is buffered for a Wagi module, at most {Array.MaxLength} bytes",
                        StatusCodes.Status413PayloadTooLarge);
                buffer.Write(chunk, 0, n);
            }
        }
        catch (IOException e) when (e is not BadHttpRequestException)
        {
            throw new BadHttpRequestException(e.Message, StatusCodes.Status400BadRequest, e);
        }
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }
}
