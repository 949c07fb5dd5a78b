using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Spindle.Components.Values;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Http;

/// <summary>
/// Sends a guest's <see cref="OutgoingRequest"/> with an <see cref="HttpMessageInvoker"/> (a pooled
/// <c>SocketsHttpHandler</c>), streaming the request body from the guest and the response body back to it, under
/// the guest's <c>request-options</c> timeouts. Policy (allow-lists, chaining, which pool) is the caller's.
/// </summary>
public static class HttpClientOutbound
{
    /// <summary>Connect, first-byte and between-bytes timeout when the guest sets none (600 s, as Spin and wasmtime).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(600);

    /// <summary>
    /// The guest's connect timeout, carried on the <see cref="HttpRequestMessage"/> for a <c>ConnectCallback</c> to
    /// apply (the handler's own <c>ConnectTimeout</c> is one value for every request).
    /// </summary>
    public static readonly HttpRequestOptionsKey<TimeSpan> ConnectTimeoutOption = new("spindle.connect-timeout");

    /// <summary>An <see cref="OutboundHttpHandler"/> that sends every request through <paramref name="invoker"/>, no policy.</summary>
    public static OutboundHttpHandler Create(HttpMessageInvoker invoker) =>
        (request, options, _, cancellation) => SendAsync(invoker, ToRequestMessage(request), options, cancellation);

    /// <summary>
    /// Builds the message for a guest request: absolute URI from scheme (default <c>https</c>, as wasmtime), authority (or
    /// <paramref name="authority"/> when given) and path; the guest's headers (forbidden ones never get here:
    /// <see cref="Fields"/> refuses them); the body streamed from the guest's pipe if it took one.
    /// </summary>
    /// <exception cref="HttpErrorCodeException"><c>HTTP-request-URI-invalid</c>.</exception>
    public static HttpRequestMessage ToRequestMessage(OutgoingRequest request, string? scheme = null, string? authority = null)
    {
        authority ??= request.Authority;
        if (string.IsNullOrEmpty(authority))
            throw new HttpErrorCodeException(HttpErrorCode.Of("HTTP-request-URI-invalid"), "the request has no authority");
        scheme ??= request.Scheme ?? "https";
        if (scheme is not ("http" or "https"))
            throw new HttpErrorCodeException(HttpErrorCode.Of("HTTP-protocol-error"), $"unsupported scheme '{scheme}'");
        if (!Uri.TryCreate($"{scheme}://{authority}{request.PathWithQuery ?? "/"}", UriKind.Absolute, out var uri))
            throw new HttpErrorCodeException(HttpErrorCode.Of("HTTP-request-URI-invalid"), $"invalid URI {scheme}://{authority}");
        HttpRequestMessage message;
        try
        {
            // Parse hands back the shared instance of a known method (GET...): the handler recognises it without
            // comparing strings, and nothing is allocated for it.
            message = new HttpRequestMessage(HttpMethod.Parse(request.Method), uri);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new HttpErrorCodeException(HttpErrorCode.Of("HTTP-request-method-invalid"), e.Message);
        }
        if (request.BodyTaken)
            message.Content = new GuestRequestContent(request.Body);
        foreach (var (name, value) in request.Headers.Entries)
        {
            if (Fields.IsForbidden(name))
                continue;
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
    /// Sends <paramref name="message"/>: 1. records the connect timeout for the connect callback; 2. sends,
    /// returning once the response head arrives (the first-byte timeout covers that); 3. wraps the response body
    /// as the guest's input stream, read only as the guest reads (backpressure), each read under the between-bytes
    /// timeout. Failures become <see cref="HttpErrorCodeException"/> with the matching <c>error-code</c>.
    /// </summary>
    public static async Task<IncomingResponse> SendAsync(HttpMessageInvoker invoker, HttpRequestMessage message, RequestOptions? options, CancellationToken cancellation)
    {
        // Only a timeout the guest set is carried (the connect callback applies the default itself): no options
        // dictionary per request otherwise.
        if (options?.ConnectTimeout is { } connectTimeout)
            message.Options.Set(ConnectTimeoutOption, TimeoutOf(connectTimeout));
        // The connection's trailer stream finds the guest's body through this flow (see RequestTrailerStream).
        (message.Content as GuestRequestContent)?.MarkSending();
        using var firstByte = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        firstByte.CancelAfter(TimeoutOf(options?.FirstByteTimeout));
        HttpResponseMessage response;
        try
        {
            response = await invoker.SendAsync(message, firstByte.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellation.IsCancellationRequested)
        {
            message.Dispose();
            // A connect callback's own failure can surface wrapped in a cancellation: keep its code.
            throw Find<HttpErrorCodeException>(e) ?? new HttpErrorCodeException(HttpErrorCode.Of("connection-read-timeout"), "no response within the first-byte timeout");
        }
        catch (HttpRequestException e)
        {
            message.Dispose();
            throw new HttpErrorCodeException(ErrorCodeOf(e), e.Message);
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false);
        var betweenBytes = TimeoutOf(options?.BetweenBytesTimeout);
        var body = new IncomingBody(
            new PipeInputStream(PipeReader.Create(new ReadTimeoutStream(stream, betweenBytes, response, message)), errorCode: BodyErrorCode),
            () =>
            {
                if (!response.TrailingHeaders.Any())
                    return null;
                var builder = new Fields.HostBuilder(4);
                AddTo(builder, response.TrailingHeaders);
                return builder.Build(immutable: true);
            });
        // The headers become fields only if the guest asks for them (a proxy that streams the body never does).
        return new IncomingResponse((ushort)response.StatusCode, () => HeadersOf(response), body);
    }

    private static Fields HeadersOf(HttpResponseMessage response)
    {
        var builder = new Fields.HostBuilder(8);
        AddTo(builder, response.Headers);
        AddTo(builder, response.Content.Headers);
        return builder.Build(immutable: true);
    }

    private static void AddTo(Fields.HostBuilder builder, HttpHeaders headers)
    {
        foreach (var (name, values) in headers.NonValidated)
            foreach (var value in values)
                builder.Add(name, Encoding.Latin1.GetBytes(value));
    }

    private static TimeSpan TimeoutOf(ulong? nanoseconds) =>
        nanoseconds is { } ns ? TimeSpan.FromTicks((long)Math.Min(ns / 100, (ulong)TimeSpan.FromDays(1).Ticks)) : DefaultTimeout;

    private static object? BodyErrorCode(Exception e) => Find<HttpErrorCodeException>(e)?.Code
        ?? (e is HttpRequestException h ? ErrorCodeOf(h) : HttpErrorCode.Of("HTTP-protocol-error"));

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
            if (e is T t)
                return t;
        return null;
    }

    /// <summary>The <c>error-code</c> for a failed send (the notes' table: most specific code, else <c>HTTP-protocol-error</c>).</summary>
    public static VariantValue ErrorCodeOf(HttpRequestException e)
    {
        if (Find<HttpErrorCodeException>(e) is { } own)
            return own.Code;
        var socket = Find<SocketException>(e)?.SocketErrorCode;
        return e.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => DnsError(),
            _ when socket is SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => DnsError(),
            _ when socket is SocketError.ConnectionRefused => HttpErrorCode.Of("connection-refused"),
            _ when socket is SocketError.TimedOut => HttpErrorCode.Of("connection-timeout"),
            _ when socket is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown => HttpErrorCode.Of("connection-terminated"),
            HttpRequestError.ConnectionError => HttpErrorCode.Of("destination-unavailable"),
            HttpRequestError.SecureConnectionError when Find<AuthenticationException>(e)?.Message.Contains("certificate", StringComparison.OrdinalIgnoreCase) == true
                => HttpErrorCode.Of("TLS-certificate-error"),
            HttpRequestError.SecureConnectionError => HttpErrorCode.Of("TLS-protocol-error"),
            HttpRequestError.ResponseEnded => HttpErrorCode.Of("HTTP-response-incomplete"),
            HttpRequestError.ConfigurationLimitExceeded => HttpErrorCode.Of("HTTP-response-header-section-size", null),
            _ => HttpErrorCode.Of("HTTP-protocol-error"),
        };
    }

    /// <summary><c>DNS-error { rcode: "address not available", info-code: 0 }</c>, as Spin reports a failed lookup.</summary>
    public static VariantValue DnsError() =>
        HttpErrorCode.Of("DNS-error", new object?[] { new Some("address not available"), new Some((ushort)0) });

    /// <summary>
    /// The upstream body under the between-bytes timeout: a read that waits longer fails with
    /// <c>connection-read-timeout</c> and the response (and its connection) is let go. Owns the request too: its
    /// body may still be streaming from the guest while the response arrives (an echo), so it ends with the response.
    /// </summary>
    private sealed class ReadTimeoutStream(Stream inner, TimeSpan timeout, HttpResponseMessage response, HttpRequestMessage request) : Stream
    {
        // One source for the body's life, linked to the reader's token (the pipe reader passes the same one every
        // read), whose timer is armed only while a read waits: a read the connection answers from what it already
        // buffered (a small body arrives with the head) costs no timer and no new source.
        private CancellationTokenSource? _wait;
        private CancellationToken _waitLinkedTo;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_wait is null || _waitLinkedTo != cancellationToken)
            {
                _wait?.Dispose();
                _wait = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : new CancellationTokenSource();
                _waitLinkedTo = cancellationToken;
            }
            ValueTask<int> read;
            try
            {
                read = inner.ReadAsync(buffer, _wait.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw TimedOut();
            }
            return read.IsCompleted ? read : WaitAsync(read, _wait, cancellationToken);
        }

        private async ValueTask<int> WaitAsync(ValueTask<int> read, CancellationTokenSource wait, CancellationToken cancellationToken)
        {
            wait.CancelAfter(timeout);
            try
            {
                return await read.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw TimedOut();
            }
            finally
            {
                // Disarmed for the next read; a source that fired cannot be reused (the next read makes a new one).
                if (!wait.TryReset() && ReferenceEquals(_wait, wait))
                    _wait = null;
            }
        }

        private HttpErrorCodeException TimedOut()
        {
            response.Dispose();
            return new HttpErrorCodeException(HttpErrorCode.Of("connection-read-timeout"), "no body bytes within the between-bytes timeout");
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, default).GetAwaiter().GetResult();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
                request.Dispose();
                _wait?.Dispose();
            }
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
