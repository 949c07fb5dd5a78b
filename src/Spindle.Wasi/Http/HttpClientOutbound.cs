using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Http;

/// <summary>
/// Sends a guest's <see cref="OutgoingRequest"/> with an <see cref="HttpMessageInvoker"/> (a pooled
/// <c>SocketsHttpHandler</c>), streaming the request body from the guest and the response body back to it.
/// Policy (allow-lists, chaining) is the caller's: wrap <see cref="Create"/>'s handler.
/// </summary>
public static class HttpClientOutbound
{
    /// <summary>An <see cref="OutboundHttpHandler"/> that sends through <paramref name="invoker"/>.</summary>
    public static OutboundHttpHandler Create(HttpMessageInvoker invoker) =>
        (request, options, cancellation) => SendAsync(invoker, request, options, cancellation);

    /// <summary>Builds the <see cref="HttpRequestMessage"/> for a guest request (absolute URI from scheme, authority, path).</summary>
    public static HttpRequestMessage ToRequestMessage(OutgoingRequest request)
    {
        var scheme = request.Scheme ?? "https";
        var uri = new Uri($"{scheme}://{request.Authority}{request.PathWithQuery ?? "/"}", UriKind.Absolute);
        var message = new HttpRequestMessage(new HttpMethod(request.Method), uri);
        if (request.BodyTaken)
            message.Content = new StreamContent(request.Body.Reader.AsStream());
        foreach (var (name, value) in request.Headers.Entries)
        {
            var text = Encoding.Latin1.GetString(value);
            if (!message.Headers.TryAddWithoutValidation(name, text))
            {
                message.Content ??= new ByteArrayContent([]);
                message.Content.Headers.TryAddWithoutValidation(name, text);
            }
        }
        return message;
    }

    /// <summary>
    /// Sends the request: 1. builds the message; 2. sends it, returning once the response head arrives (the
    /// first-byte timeout applies to that); 3. wraps the response body as the guest's input stream.
    /// Failures become <see cref="HttpErrorCodeException"/> with the matching <c>error-code</c>.
    /// </summary>
    public static async Task<IncomingResponse> SendAsync(HttpMessageInvoker invoker, OutgoingRequest request, RequestOptions? options, CancellationToken cancellation)
    {
        HttpRequestMessage message;
        try
        {
            message = ToRequestMessage(request);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            throw new HttpErrorCodeException(HttpErrorCode.Of("HTTP-request-URI-invalid"), e.Message);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        if (options?.FirstByteTimeout is { } ns)
            timeout.CancelAfter(TimeSpan.FromTicks((long)Math.Min(ns / 100, (ulong)TimeSpan.MaxValue.Ticks / 2)));
        HttpResponseMessage response;
        try
        {
            response = await invoker.SendAsync(message, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new HttpErrorCodeException(HttpErrorCode.Of("HTTP-response-timeout"));
        }
        catch (HttpRequestException e)
        {
            throw new HttpErrorCodeException(ErrorCodeOf(e), e.Message);
        }

        var headers = response.Headers.Concat(response.Content.Headers)
            .SelectMany(h => h.Value.Select(v => new KeyValuePair<string, byte[]>(h.Key, Encoding.Latin1.GetBytes(v))));
        var stream = await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false);
        var body = new IncomingBody(
            new PipeInputStream(PipeReader.Create(stream), errorCode: _ => HttpErrorCode.Of("HTTP-protocol-error")),
            () => response.TrailingHeaders.Any() ? Fields.FromHost(Entries(response.TrailingHeaders), immutable: true) : null);
        return new IncomingResponse((ushort)response.StatusCode, Fields.FromHost(headers, immutable: true), body);
    }

    private static IEnumerable<KeyValuePair<string, byte[]>> Entries(HttpHeaders headers) =>
        headers.SelectMany(h => h.Value.Select(v => new KeyValuePair<string, byte[]>(h.Key, Encoding.Latin1.GetBytes(v))));

    /// <summary>The <c>error-code</c> for a failed send.</summary>
    public static Components.Values.VariantValue ErrorCodeOf(HttpRequestException e) => e.HttpRequestError switch
    {
        HttpRequestError.NameResolutionError => HttpErrorCode.Of("DNS-error", new object?[] { null, null }),
        HttpRequestError.ConnectionError when e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused }
            => HttpErrorCode.Of("connection-refused"),
        HttpRequestError.ConnectionError => HttpErrorCode.Of("destination-unavailable"),
        HttpRequestError.SecureConnectionError => HttpErrorCode.Of("TLS-protocol-error"),
        HttpRequestError.ResponseEnded => HttpErrorCode.Of("HTTP-response-incomplete"),
        HttpRequestError.InvalidResponse => HttpErrorCode.Of("HTTP-protocol-error"),
        _ => HttpErrorCode.InternalError(e.Message),
    };
}
