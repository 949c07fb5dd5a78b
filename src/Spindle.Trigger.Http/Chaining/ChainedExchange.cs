using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview2.Io;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Chaining;

/// <summary>
/// One service-chained request as an in-memory <see cref="HttpContext"/>: the callee's executor reads the caller's
/// request body pipe and writes its response into a bounded pipe the caller reads, so both bodies stream with
/// backpressure and no socket. The caller's <see cref="IncomingResponse"/> is ready when the callee's response head
/// is: at its first flush, or when the callee is done.
/// <para>
/// The head completes the caller's task with synchronous continuations: a caller waiting for it resumes right here
/// rather than after a thread-pool wake-up. Never on a guest's fiber, though (the caller would poll its own guest
/// from inside another's): there the result is handed to the pool. Bytes are committed to the pipe before the
/// head goes out, so a caller resuming inline finds them.
/// </para>
/// </summary>
internal sealed class ChainedExchange : IHttpResponseFeature, IHttpResponseBodyFeature, IHttpRequestLifetimeFeature,
    IHttpResponseTrailersFeature, IHttpRequestTrailersFeature, IRequestBodyPipeFeature
{
    // As much as a guest's own outgoing body holds before its writer waits: the callee stops when the caller does not read.
    private static readonly PipeOptions BodyPipe = new(pauseWriterThreshold: 256 * 1024, resumeWriterThreshold: 128 * 1024,
        minimumSegmentSize: 16 * 1024, useSynchronizationContext: false);

    private readonly OutgoingRequest _request;
    private readonly Pipe _response = new(BodyPipe);
    private readonly HeadOnFlushWriter _writer;
    private readonly CancellationTokenSource _aborted;
    private readonly CancellationToken _abortedToken;
    private readonly TaskCompletionSource<IncomingResponse> _head = new(); // continuations inline: see Publish
    private readonly List<(Func<object, Task> Callback, object State)> _onStarting = [];
    private Stream? _bodyStream;
    private IHeaderDictionary? _requestTrailers;

    public ChainedExchange(OutgoingRequest request, CancellationToken callerCancellation)
    {
        _request = request;
        _aborted = CancellationTokenSource.CreateLinkedTokenSource(callerCancellation);
        _abortedToken = _aborted.Token;
        _writer = new HeadOnFlushWriter(_response.Writer, this);
        Http = CreateContext(request);
    }

    /// <summary>The context handed to the trigger's chained entry point.</summary>
    public HttpContext Http { get; }

    /// <summary>The caller's response: completes with the callee's head, or fails when the callee could not run.</summary>
    public Task<IncomingResponse> Response => _head.Task;

    /// <summary>
    /// Called once the trigger returned: publishes the head if no flush did (a short body goes with it) and ends the
    /// body. A callee that failed after its head went out has already aborted the body.
    /// </summary>
    public async Task CompleteAsync()
    {
        // The whole body is in the pipe before the head goes out: a caller resuming inline reads it without waiting.
        var head = await BuildHeadAsync().ConfigureAwait(false);
        await _response.Writer.CompleteAsync().ConfigureAwait(false);
        _aborted.Dispose();
        if (head is not null)
            Publish(head, null);
    }

    /// <summary>The callee could not be run at all.</summary>
    public void Fail(Exception e)
    {
        _response.Writer.Complete(e);
        _aborted.Dispose();
        Publish(null, e);
    }

    /// <summary>
    /// Completes the caller's response (with the head, or failed with <paramref name="error"/>). Off a guest's fiber
    /// its continuations run inline (a caller waiting resumes on this thread, without a wake-up); on a fiber they
    /// must not (a waiting caller would poll its guest there), so the result is handed to the pool.
    /// </summary>
    private void Publish(IncomingResponse? head, Exception? error)
    {
        if (_head.Task.IsCompleted)
            return;
        if (AfterPoll.InsideGuest)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Exchange.SetHead(s.Head, s.Error), (Exchange: this, Head: head, Error: error), preferLocal: false);
            return;
        }
        SetHead(head, error);
    }

    private void SetHead(IncomingResponse? head, Exception? error)
    {
        if (error is not null)
            _head.TrySetException(error);
        else
            _head.TrySetResult(head!);
    }

    private HttpContext CreateContext(OutgoingRequest request)
    {
        var target = request.PathWithQuery ?? "/";
        var q = target.IndexOf('?');
        var headers = new HeaderDictionary();
        foreach (var (name, value) in request.Headers.Entries)
            headers.Append(name, Encoding.Latin1.GetString(value));
        // The URI's authority, as a client's Host would carry it; the trigger keeps it for the guest's request
        // authority and removes the header, as Spin does.
        headers["Host"] = request.Authority;
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Protocol = "HTTP/1.1",
            Scheme = "http",
            Method = request.Method,
            PathBase = "",
            Path = Uri.UnescapeDataString(q < 0 ? target : target[..q]),
            QueryString = q < 0 ? "" : target[q..],
            RawTarget = target,
            Headers = headers,
            Body = request.BodyTaken ? request.Body.Reader.AsStream() : Stream.Null,
        });
        features.Set<IRequestBodyPipeFeature>(this);
        features.Set<IHttpResponseFeature>(this);
        features.Set<IHttpResponseBodyFeature>(this);
        features.Set<IHttpRequestLifetimeFeature>(this);
        features.Set<IHttpResponseTrailersFeature>(this);
        features.Set<IHttpRequestTrailersFeature>(this);
        return new DefaultHttpContext(features);
    }

    private async Task StartCoreAsync()
    {
        if (await BuildHeadAsync().ConfigureAwait(false) is { } head)
            Publish(head, null);
    }

    /// <summary>Starts the response once: runs the OnStarting callbacks and builds the head (null if it had started already).</summary>
    private async ValueTask<IncomingResponse?> BuildHeadAsync()
    {
        if (HasStarted)
            return null;
        HasStarted = true;
        foreach (var (callback, state) in Enumerable.Reverse(_onStarting))
            await callback(state).ConfigureAwait(false);
        var fields = new Fields.HostBuilder(Headers.Count);
        foreach (var (name, values) in Headers)
            foreach (var value in values)
                if (value is not null)
                    fields.Add(name, value);
        var body = new IncomingBody(
            new PipeInputStream(_response.Reader, errorCode: _ => HttpErrorCode.Of("HTTP-response-incomplete")),
            ResponseTrailers);
        return new IncomingResponse((ushort)StatusCode, fields.Build(immutable: true), body);
    }

    private Fields? ResponseTrailers()
    {
        if (Trailers.Count == 0)
            return null;
        var fields = new Fields.HostBuilder(Trailers.Count);
        foreach (var (name, values) in Trailers)
            foreach (var value in values)
                fields.Add(name, value ?? "");
        return fields.Build(immutable: true);
    }

    // IRequestBodyPipeFeature: the callee reads the caller's body pipe directly.
    PipeReader IRequestBodyPipeFeature.Reader => _request.BodyTaken ? _request.Body.Reader : EmptyReader.Instance;

    // IHttpRequestTrailersFeature: the caller's trailers, known once its body is finished.
    bool IHttpRequestTrailersFeature.Available => _request.Body.IsFinished;

    IHeaderDictionary IHttpRequestTrailersFeature.Trailers => _requestTrailers ??= RequestTrailers();

    private IHeaderDictionary RequestTrailers()
    {
        var trailers = new HeaderDictionary();
        if (_request.Body.Trailers is { } fields)
            foreach (var (name, value) in fields.Entries)
                trailers.Append(name, Encoding.Latin1.GetString(value));
        return trailers;
    }

    // IHttpResponseFeature
    public int StatusCode { get; set; } = StatusCodes.Status200OK;
    public string? ReasonPhrase { get; set; }
    public IHeaderDictionary Headers { get; set; } = new HeaderDictionary();
    public bool HasStarted { get; private set; }

    [Obsolete("Use IHttpResponseBodyFeature.Stream")]
    public Stream Body
    {
        get => Stream;
        set => throw new NotSupportedException("a chained response body cannot be replaced");
    }

    public void OnStarting(Func<object, Task> callback, object state) => _onStarting.Add((callback, state));

    public void OnCompleted(Func<object, Task> callback, object state) { }

    // IHttpResponseTrailersFeature
    public IHeaderDictionary Trailers { get; set; } = new HeaderDictionary();

    // IHttpResponseBodyFeature
    public Stream Stream => _bodyStream ??= _writer.AsStream();
    public PipeWriter Writer => _writer;
    public void DisableBuffering() { }
    public Task StartAsync(CancellationToken cancellationToken = default) => StartCoreAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    Task IHttpResponseBodyFeature.CompleteAsync() => StartCoreAsync();

    // IHttpRequestLifetimeFeature: the caller's deadline and cancellation; Abort cuts the body short for the caller.
    public CancellationToken RequestAborted { get => _abortedToken; set => throw new NotSupportedException(); }

    public void Abort()
    {
        _response.Writer.Complete(new OperationCanceledException("the chained component aborted its response"));
        try { _aborted.Cancel(); }
        catch (ObjectDisposedException) { }
        Publish(null, new HttpErrorCodeException(HttpErrorCode.Of("HTTP-response-incomplete"), "the chained component aborted its response"));
    }

    /// <summary>
    /// Forwards to the pipe, publishing the head at the first flush so the caller sees it as the bytes come: after the
    /// bytes are committed (a caller resuming inline finds them), before waiting for room (the caller must read).
    /// </summary>
    private sealed class HeadOnFlushWriter(PipeWriter inner, ChainedExchange exchange) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);
        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
        public override void CancelPendingFlush() => inner.CancelPendingFlush();
        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
            exchange.HasStarted ? inner.FlushAsync(cancellationToken) : StartAndFlushAsync(cancellationToken);

        private async ValueTask<FlushResult> StartAndFlushAsync(CancellationToken cancellationToken)
        {
            var head = await exchange.BuildHeadAsync().ConfigureAwait(false);
            var flush = inner.FlushAsync(cancellationToken);
            if (head is not null)
                exchange.Publish(head, null);
            return await flush.ConfigureAwait(false);
        }
    }

    private sealed class EmptyReader : PipeReader
    {
        public static readonly EmptyReader Instance = new();
        public override bool TryRead(out ReadResult result)
        {
            result = new ReadResult(default, isCanceled: false, isCompleted: true);
            return true;
        }
        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
            new(new ReadResult(default, isCanceled: false, isCompleted: true));
        public override void AdvanceTo(SequencePosition consumed) { }
        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) { }
        public override void CancelPendingRead() { }
        public override void Complete(Exception? exception = null) { }
    }
}
