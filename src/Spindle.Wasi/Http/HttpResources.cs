using System.IO.Pipelines;
using Spindle.Components.Values;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Http;

/// <summary>A <c>wasi:http/types.incoming-request</c>: what the host received, read-only to the guest.</summary>
public sealed class IncomingRequest
{
    private IncomingBody? _body;
    private LazyHeaders _headers; // not readonly: it caches on first use

    /// <summary>A request with its headers at hand.</summary>
    public IncomingRequest(string method, string? pathWithQuery, string? scheme, string? authority, Fields headers, IncomingBody body)
        : this(method, pathWithQuery, scheme, authority, body) =>
        _headers = new LazyHeaders(headers);

    /// <summary>
    /// A request whose headers are built by <paramref name="headers"/> the first time they are asked for: many
    /// guests never read them, and converting every header to bytes costs every request.
    /// </summary>
    public IncomingRequest(string method, string? pathWithQuery, string? scheme, string? authority, Func<Fields> headers, IncomingBody body)
        : this(method, pathWithQuery, scheme, authority, body) =>
        _headers = new LazyHeaders(headers);

    private IncomingRequest(string method, string? pathWithQuery, string? scheme, string? authority, IncomingBody body)
    {
        Method = method;
        PathWithQuery = pathWithQuery;
        Scheme = scheme;
        Authority = authority;
        _body = body;
    }

    /// <summary>The method (<c>GET</c>...).</summary>
    public string Method { get; }

    /// <summary>Path and query, as received.</summary>
    public string? PathWithQuery { get; }

    /// <summary><c>http</c> or <c>https</c>.</summary>
    public string? Scheme { get; }

    /// <summary>The authority (Host).</summary>
    public string? Authority { get; }

    /// <summary>The headers (immutable).</summary>
    public Fields Headers => _headers.Value;

    /// <summary>Hands out the body once (<c>consume</c>); null afterwards.</summary>
    public IncomingBody? Consume() => Interlocked.Exchange(ref _body, null);
}

/// <summary>A <c>wasi:http/types.incoming-body</c>: one input stream, then trailers.</summary>
/// <param name="stream">The body bytes.</param>
/// <param name="trailers">Reads the trailers once the body has ended (null when there are none).</param>
public sealed class IncomingBody(InputStream stream, Func<Fields?>? trailers = null) : IDisposable
{
    private InputStream? _stream = stream;

    /// <summary>Hands out the stream once (<c>stream</c>); null afterwards.</summary>
    public InputStream? TakeStream() => Interlocked.Exchange(ref _stream, null);

    /// <summary><c>finish</c>: the trailers, ready at once (the body source knows them when the stream ended).</summary>
    public FutureTrailers Finish() => new(trailers);

    /// <summary>Disposes the stream if the guest never took it.</summary>
    public void Dispose() => Interlocked.Exchange(ref _stream, null)?.Dispose();
}

/// <summary>A <c>wasi:http/types.future-trailers</c>.</summary>
public sealed class FutureTrailers(Func<Fields?>? trailers)
{
    private bool _taken;

    /// <summary><c>subscribe</c>: always ready.</summary>
    public Pollable Subscribe() => Pollable.Ready();

    /// <summary><c>get</c>: <c>some(ok(ok(trailers?)))</c> the first time, <c>some(err)</c> afterwards.</summary>
    public object? Get()
    {
        if (_taken)
            return new Some(ResultValue.Err());
        _taken = true;
        Fields? fields;
        try
        {
            fields = trailers?.Invoke();
        }
        catch (Exception e)
        {
            return new Some(ResultValue.Ok(ResultValue.Err(HttpErrorCode.InternalError(e.Message))));
        }
        return new Some(ResultValue.Ok(ResultValue.Ok(fields is null ? null : new Some(fields.ImmutableView()))));
    }
}

/// <summary>A <c>wasi:http/types.outgoing-response</c> the guest builds.</summary>
public sealed class OutgoingResponse(Fields headers)
{
    private int _bodyTaken;

    /// <summary>The status code (default 200).</summary>
    public ushort StatusCode { get; private set; } = 200;

    /// <summary>The headers (owned by the response).</summary>
    public Fields Headers { get; } = headers.IsImmutable ? headers.Clone() : headers;

    /// <summary>The body, whether or not the guest has taken it.</summary>
    public OutgoingBody Body { get; } = new();

    /// <summary>Sets the status if it is a valid HTTP status (100–999).</summary>
    public bool TrySetStatusCode(ushort status)
    {
        if (status is < 100 or > 999)
            return false;
        StatusCode = status;
        return true;
    }

    /// <summary>Hands out the body once; null afterwards.</summary>
    public OutgoingBody? TakeBody() => Interlocked.Exchange(ref _bodyTaken, 1) == 0 ? Body : null;

    /// <summary>True once the guest took the body; an untaken body is empty.</summary>
    public bool BodyTaken => Volatile.Read(ref _bodyTaken) == 1;
}

/// <summary>
/// A <c>wasi:http/types.outgoing-body</c>: the guest writes into a bounded pipe; the host reads
/// <see cref="Reader"/> and forwards it (to Kestrel or upstream) as it arrives.
/// </summary>
public sealed class OutgoingBody : IDisposable
{
    // The pipe holds at most this much before the guest's check-write answers 0 (backpressure).
    private const long PauseAt = 256 * 1024;
    // 16 KiB segments: a large guest write reaches Kestrel as a few big chunks rather than many 4 KiB ones.
    private static readonly PipeOptions Options = new(pauseWriterThreshold: PauseAt, resumeWriterThreshold: PauseAt / 2,
        minimumSegmentSize: 16 * 1024, useSynchronizationContext: false);
    private readonly Pipe _pipe = new(Options);
    private readonly PipeOutputStream _stream;
    private bool _streamTaken;
    private int _finished;

    /// <summary>Creates an empty body.</summary>
    public OutgoingBody() => _stream = new PipeOutputStream(_pipe.Writer, flushed: () => Flushed?.Invoke());

    /// <summary>
    /// Raised (on the guest's thread) when the guest flushes the body stream: the bytes written so far should go
    /// out without waiting for the guest to wait or return.
    /// </summary>
    public event Action? Flushed;

    /// <summary>What the guest wrote, in order; completes when the guest finishes (or faults when it drops the body unfinished).</summary>
    public PipeReader Reader => _pipe.Reader;

    /// <summary>The trailers given to <c>finish</c>, if any.</summary>
    public Fields? Trailers { get; private set; }

    /// <summary>True once <c>finish</c> was called.</summary>
    public bool IsFinished => Volatile.Read(ref _finished) == 1;

    /// <summary>Hands out the output stream once (<c>write</c>); null afterwards.</summary>
    public OutputStream? TakeStream()
    {
        if (_streamTaken)
            return null;
        _streamTaken = true;
        return _stream;
    }

    /// <summary><c>finish</c>: ends the body, with optional trailers. False if it was already finished.</summary>
    public bool Finish(Fields? trailers)
    {
        if (Interlocked.Exchange(ref _finished, 1) == 1)
            return false;
        Trailers = trailers;
        _stream.Complete();
        return true;
    }

    /// <summary>Ends the body in error (a guest trap after the response started).</summary>
    public void Abort(string reason)
    {
        if (Interlocked.Exchange(ref _finished, 1) == 0)
            _stream.Complete(new OutgoingBodyAbortedException(reason));
    }

    /// <summary>A body dropped without <c>finish</c> is incomplete: the reader sees an error.</summary>
    public void Dispose() => Abort("the guest dropped the outgoing-body without calling finish");
}

/// <summary>The error an <see cref="OutgoingBody.Reader"/> sees when the body did not end properly.</summary>
public sealed class OutgoingBodyAbortedException(string message) : Exception(message);

/// <summary>
/// A <c>wasi:http/types.response-outparam</c>: where the guest puts its response, once. The host supplies what to
/// do with it.
/// </summary>
/// <param name="onSet">Called with the response, or with the guest's <c>error-code</c> value.</param>
public sealed class ResponseOutparam(Action<OutgoingResponse?, VariantValue?> onSet)
{
    private int _set;

    /// <summary>True once the guest set a response or an error.</summary>
    public bool IsSet => Volatile.Read(ref _set) == 1;

    /// <summary><c>set</c>. Throws (a trap) when called twice.</summary>
    public void Set(ResultValue response)
    {
        if (Interlocked.Exchange(ref _set, 1) == 1)
            throw new InvalidOperationException("response-outparam.set called twice");
        if (response.IsOk)
            onSet(response.Value as OutgoingResponse ?? throw new InvalidOperationException("response-outparam.set: ok payload is not an outgoing-response"), null);
        else
            onSet(null, response.Value as VariantValue ?? HttpErrorCode.InternalError(null));
    }
}

/// <summary>A <c>wasi:http/types.outgoing-request</c> the guest builds for <c>outgoing-handler.handle</c>.</summary>
public sealed class OutgoingRequest(Fields headers)
{
    private int _bodyTaken;

    /// <summary>The method (default GET).</summary>
    public string Method { get; set; } = "GET";

    /// <summary>Path and query (null for none).</summary>
    public string? PathWithQuery { get; set; }

    /// <summary>Scheme (null for none).</summary>
    public string? Scheme { get; set; }

    /// <summary>Authority (null for none).</summary>
    public string? Authority { get; set; }

    /// <summary>The headers.</summary>
    public Fields Headers { get; } = headers.IsImmutable ? headers.Clone() : headers;

    // Made when first asked for: most outbound requests (a GET) never take a body, and a body is a pipe.
    private OutgoingBody? _body;

    /// <summary>The body, whether or not the guest has taken it.</summary>
    public OutgoingBody Body => Volatile.Read(ref _body) ?? Interlocked.CompareExchange(ref _body, new OutgoingBody(), null) ?? _body;

    /// <summary>Hands out the body once; null afterwards.</summary>
    public OutgoingBody? TakeBody() => Interlocked.Exchange(ref _bodyTaken, 1) == 0 ? Body : null;

    /// <summary>True once the guest took the body; an untaken body is empty.</summary>
    public bool BodyTaken => Volatile.Read(ref _bodyTaken) == 1;
}

/// <summary>A <c>wasi:http/types.request-options</c> (timeouts in nanoseconds; null for none).</summary>
public sealed class RequestOptions
{
    /// <summary>Connect timeout.</summary>
    public ulong? ConnectTimeout { get; set; }

    /// <summary>Time to the first response byte.</summary>
    public ulong? FirstByteTimeout { get; set; }

    /// <summary>Time between response body bytes.</summary>
    public ulong? BetweenBytesTimeout { get; set; }
}

/// <summary>A <c>wasi:http/types.incoming-response</c> from an outbound request.</summary>
public sealed class IncomingResponse : IDisposable
{
    private IncomingBody? _body;
    private LazyHeaders _headers; // not readonly: it caches on first use

    /// <summary>A response with its headers at hand.</summary>
    public IncomingResponse(ushort status, Fields headers, IncomingBody body)
    {
        Status = status;
        _headers = new LazyHeaders(headers);
        _body = body;
    }

    /// <summary>
    /// A response whose headers are built by <paramref name="headers"/> the first time they are asked for: a guest
    /// that only streams the body through never reads them, and converting each to bytes costs every request.
    /// </summary>
    public IncomingResponse(ushort status, Func<Fields> headers, IncomingBody body)
    {
        Status = status;
        _headers = new LazyHeaders(headers);
        _body = body;
    }

    /// <summary>The status code.</summary>
    public ushort Status { get; }

    /// <summary>The headers (immutable).</summary>
    public Fields Headers => _headers.Value;

    /// <summary>Hands out the body once; null afterwards.</summary>
    public IncomingBody? Consume() => Interlocked.Exchange(ref _body, null);

    /// <summary>A response whose body the guest never consumed lets its connection go.</summary>
    public void Dispose() => Interlocked.Exchange(ref _body, null)?.Dispose();
}

/// <summary>A <c>wasi:http/types.future-incoming-response</c>: an outbound request in flight.</summary>
/// <param name="response">The pending response.</param>
/// <param name="cancel">Cancels the request when the guest drops the future before taking the response.</param>
public sealed class FutureIncomingResponse(Task<IncomingResponse> response, CancellationTokenSource? cancel = null) : IDisposable
{
    private bool _taken;

    /// <summary>
    /// Dropped before the response was taken: the request is cancelled, and a response that still arrives is
    /// disposed so its connection goes back to the pool.
    /// </summary>
    public void Dispose()
    {
        if (!_taken)
        {
            _taken = true;
            cancel?.Cancel();
            Response.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        // Linked to the caller's request token, which outlives this future: unregister.
        cancel?.Dispose();
    }

    /// <summary>The pending response.</summary>
    public Task<IncomingResponse> Response { get; } = response;

    /// <summary><c>subscribe</c>: ready when the response head arrived or the request failed.</summary>
    public Pollable Subscribe() => Pollable.FromTask(Response);

    /// <summary><c>get</c>: none while pending; <c>some(ok(ok(response)))</c> or <c>some(ok(err(code)))</c> once; <c>some(err)</c> after.</summary>
    public object? Get()
    {
        if (!Response.IsCompleted)
            return null;
        if (_taken)
            return new Some(ResultValue.Err());
        _taken = true;
        if (Response.IsCompletedSuccessfully)
            return new Some(ResultValue.Ok(ResultValue.Ok(Response.Result)));
        var error = Response.Exception?.InnerException;
        var code = error is HttpErrorCodeException h ? h.Code : HttpErrorCode.InternalError(error?.Message ?? "request cancelled");
        return new Some(ResultValue.Ok(ResultValue.Err(code)));
    }
}

/// <summary>
/// Headers of an incoming message, given at once or built the first time they are asked for (many guests never
/// read them, and converting every header to bytes costs every message); always handed out immutable.
/// </summary>
internal struct LazyHeaders
{
    private Func<Fields>? _build;
    private Fields? _fields;

    public LazyHeaders(Fields fields) => _fields = Immutable(fields);

    public LazyHeaders(Func<Fields> build) => _build = build;

    public Fields Value
    {
        get
        {
            if (_fields is null)
            {
                _fields = Immutable(_build!());
                _build = null;
            }
            return _fields;
        }
    }

    private static Fields Immutable(Fields fields) => fields.IsImmutable ? fields : fields.ImmutableView();
}
