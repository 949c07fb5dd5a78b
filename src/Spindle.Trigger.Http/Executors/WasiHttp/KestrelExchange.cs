using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Spindle.Components.Values;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Trigger.Http.Executors.WasiHttp;

/// <summary>
/// Connects one Kestrel request to a wasi:http guest: builds the <see cref="IncomingRequest"/> (body streamed from
/// <c>BodyReader</c>) and the <see cref="ResponseOutparam"/>. Once the guest has set its response, status, headers
/// and the body written so far go to the client the next time the guest waits or returns (<see cref="Send"/>),
/// then the body streams to <c>BodyWriter</c> as the guest writes it. Sending at those points rather than at once
/// lets a guest that answers without waiting get one write to the socket instead of three (headers, body, end).
/// </summary>
public sealed class KestrelExchange
{
    private readonly HttpContext _http;
    private readonly ILogger _logger;
    private readonly string _componentId;
    private readonly InboundRequest _inbound;
    private OutgoingResponse? _response;
    private Task? _pump;
    private int _sending;
    private bool _acceptedByKestrel;
    private Exception? _bodyFailure; // the request body could not be read (the guest got the stream error)

    /// <summary>Prepares the guest-side resources for <paramref name="request"/>.</summary>
    public KestrelExchange(InboundRequest request, string componentId, ILogger logger)
    {
        _http = request.Http;
        _logger = logger;
        _componentId = componentId;
        _inbound = request;
        Request = CreateIncomingRequest(request);
        Outparam = new ResponseOutparam(OnSet);
    }

    /// <summary>The request handed to <c>incoming-handler.handle</c>.</summary>
    public IncomingRequest Request { get; }

    /// <summary>The response-outparam handed to <c>incoming-handler.handle</c>.</summary>
    public ResponseOutparam Outparam { get; }

    /// <summary>True once the guest set a response Kestrel accepted (it goes out at the next <see cref="Send"/>).</summary>
    public bool ResponseSet => _acceptedByKestrel;

    /// <summary>The error the guest set instead of a response, if any.</summary>
    public VariantValue? GuestError { get; private set; }

    /// <summary>
    /// Ends the exchange after the guest call: 1. nothing sent yet and no response, or a fault → 500 with an
    /// empty body (the client's 4xx instead when its request body could not be read); 2. a fault after the response went out → the body is aborted and the connection reset;
    /// 3. otherwise an untaken body is finished empty and the body pump is awaited.
    /// </summary>
    /// <param name="fault">The guest's trap or error, or null when <c>handle</c> returned normally.</param>
    public async Task CompleteAsync(Exception? fault)
    {
        // Closes the door on a flush's pending send: either the pump already started, or it never will.
        var started = Interlocked.Exchange(ref _sending, 1) == 1;
        if (!started && (fault is not null || !_acceptedByKestrel))
        {
            // Nothing went out yet: a response the guest set but did not see through is replaced by a 500, or by the
            // client's error (400, 413...) when the guest failed over a request body that could not be read.
            var clientError = RequestBody.ClientErrorStatus(_bodyFailure);
            if (fault is null && clientError is { } status)
                _logger.RequestBodyUnreadable(_componentId, _inbound.Describe(), _bodyFailure!.Message, status);
            else if (fault is null)
                _logger.NoResponseSet(_componentId, _inbound.Describe(),
                    GuestError is { } e ? $" (error-code {HttpErrorCode.NameOf(e)})" : "");
            _response?.Body.Abort("guest failed before the response was sent");
            RespondEmpty(clientError ?? StatusCodes.Status500InternalServerError);
            return;
        }
        if (!started)
            _pump = PumpAsync(_response!.Body);
        else
            SpinWait.SpinUntil(() => Volatile.Read(ref _pump) is not null);

        var body = _response!.Body;
        if (fault is not null)
            body.Abort($"guest failed: {fault.Message}");
        else if (!_response.BodyTaken)
            body.Finish(null);
        await _pump!.ConfigureAwait(false);
    }

    /// <summary>
    /// Called when <c>handle</c> returned normally, before the store is torn down: a body the guest still holds
    /// unfinished ends cleanly (StarlingMonkey answers its own errors with a 500 whose body it never finishes).
    /// A body the guest explicitly dropped unfinished has already been aborted.
    /// </summary>
    public void GuestReturned()
    {
        if (_response is { Body.IsFinished: false } response)
        {
            _logger.BodyUnfinished(_componentId);
            response.Body.Finish(null);
        }
        Send();
    }

    /// <summary>
    /// Starts sending the response if the guest has set one: called whenever the guest waits (see
    /// <see cref="Spindle.Wasmtime.WasmStore.Suspending"/>) and when it returns. Later calls do nothing.
    /// </summary>
    public void Send()
    {
        if (_acceptedByKestrel && Interlocked.Exchange(ref _sending, 1) == 0)
            Volatile.Write(ref _pump, PumpAsync(_response!.Body));
    }

    // A flush asks for the bytes to leave now, but the guest is still running on its fiber: the send starts from the
    // thread pool. A guest that returns first (a hello) has usually sent everything in one write by then.
    // A chained callee's bytes go to a caller that waits on this very thread (the callee runs in its caller's driver,
    // AfterPoll): they go when the callee next waits, yields or returns (Send), without waking a pool thread that
    // would race the callee for the pipe and the caller for its response.
    private void SendSoon()
    {
        if (Volatile.Read(ref _sending) == 0 && _inbound.ChainDepth == 0)
            ThreadPool.UnsafeQueueUserWorkItem(static exchange => exchange.Send(), this, preferLocal: false);
    }

    /// <summary>Completes the response body in error (used when the store is torn down early).</summary>
    public void AbortBody(string reason) => _response?.Body.Abort(reason);

    private void RespondEmpty500() => RespondEmpty(StatusCodes.Status500InternalServerError);

    private void RespondEmpty(int status)
    {
        if (_http.Response.HasStarted)
        {
            _http.Abort();
            return;
        }
        _http.Response.Clear();
        _http.Response.StatusCode = status;
        _http.Response.ContentLength = 0;
    }

    private void OnSet(OutgoingResponse? response, VariantValue? error)
    {
        if (response is null)
        {
            GuestError = error;
            return;
        }
        if (response.StatusCode >= 500 && RequestBody.ClientErrorStatus(_bodyFailure) is not null)
        {
            // The guest's server error answers a request body the client got wrong: the client's error is sent instead.
            response.Body.Abort("the request body could not be read");
            return;
        }
        try
        {
            _http.Response.StatusCode = response.StatusCode;
            var headers = _http.Response.Headers;
            foreach (var (name, value) in response.Headers.Entries)
                headers.Append(name, Encoding.Latin1.GetString(value));
        }
        catch (Exception e)
        {
            // Kestrel refused a status or header: the guest's response cannot be sent as is.
            _logger.ResponseRejected(e, _componentId);
            _http.Response.Clear();
            response.Body.Abort("response rejected");
            return;
        }
        _response = response;
        _acceptedByKestrel = true;
        response.Body.Flushed += SendSoon;
    }

    // Copies the body to Kestrel, flushing when nothing more is buffered (or FlushAt bytes are pending): what the
    // guest wrote in one run goes out in one write. A body complete before the first flush is left for Kestrel to
    // send with the head when the request delegate returns; once the head went out, Kestrel does not flush a
    // Content-Length body's tail at the end, so the pump does.
    private async Task PumpAsync(OutgoingBody body)
    {
        const int FlushAt = 64 * 1024;
        var reader = body.Reader;
        var output = _http.Response.BodyWriter;
        var ct = _http.RequestAborted;
        try
        {
            long pending = 0;
            var flushed = false;
            while (true)
            {
                if (!reader.TryRead(out var result))
                {
                    await FlushAsync();
                    result = await reader.ReadAsync(ct).ConfigureAwait(false);
                }
                foreach (var segment in result.Buffer)
                    output.Write(segment.Span);
                pending += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    if (flushed && pending > 0)
                        await FlushAsync();
                    break;
                }
                if (pending >= FlushAt)
                    await FlushAsync();
            }

            async Task FlushAsync()
            {
                if ((await output.FlushAsync(ct).ConfigureAwait(false)).IsCompleted)
                    throw new OperationCanceledException("the client is gone");
                pending = 0;
                flushed = true;
            }
            if (body.Trailers is { } trailers && _http.Response.SupportsTrailers())
                foreach (var (name, value) in trailers.Entries)
                    _http.Response.AppendTrailer(name, Encoding.Latin1.GetString(value));
            await body.Reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The guest's writes now see a closed stream.
            await body.Reader.CompleteAsync(e).ConfigureAwait(false);
            if (!_http.Response.HasStarted && !_http.RequestAborted.IsCancellationRequested)
            {
                // Nothing was sent (Kestrel refused the status or a header value): answer 500 instead.
                _logger.ResponseInvalid(_componentId, e.Message);
                RespondEmpty500();
                return;
            }
            // A guest failure was logged by the executor; log only what it could not see.
            if (e is not (OperationCanceledException or OutgoingBodyAbortedException))
                _logger.ResponseBodyAborted(_componentId, e.Message);
            await AbortResponseAsync().ConfigureAwait(false);
        }
    }

    // The head (and what the guest wrote) goes out first where possible, then the body is cut short so the
    // client sees a truncated response rather than a complete one: HTTP/2+ resets the stream, HTTP/1.1 drops
    // the connection.
    private async Task AbortResponseAsync()
    {
        try
        {
            if (!_http.RequestAborted.IsCancellationRequested)
                await _http.Response.BodyWriter.FlushAsync(_http.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Already gone: nothing left to preserve.
        }
        if (_http.Features.Get<IHttpResetFeature>() is { } reset)
            reset.Reset(2); // INTERNAL_ERROR
        else
            _http.Abort();
    }

    private IncomingRequest CreateIncomingRequest(InboundRequest inbound)
    {
        var request = inbound.Http.Request;
        var rawTarget = inbound.Http.Features.Get<IHttpRequestFeature>()?.RawTarget;
        var pathWithQuery = rawTarget is { Length: > 0 } && rawTarget[0] == '/'
            ? rawTarget
            : request.PathBase.Add(request.Path).ToUriComponent() + request.QueryString.ToUriComponent();

        var body = new IncomingBody(
            new PipeInputStream(request.BodyReader, completeReaderOnDispose: false,
                errorCode: e => RequestBody.ErrorCode(_bodyFailure ??= e)),
            RequestTrailers);

        // Spin gives wasi:http 0.2 guests scheme http whatever the listener (spin-full-url has the real one).
        return new IncomingRequest(request.Method, pathWithQuery, "http", inbound.Authority, RequestHeaders, body);
    }

    // The client's headers in the order received (each value of a repeated header as its own entry), then the
    // spin-* headers; built only when the guest asks for them.
    private Fields RequestHeaders()
    {
        var headers = _http.Request.Headers;
        var spinHeaders = _inbound.SpinHeaders;
        var fields = new Fields.HostBuilder(headers.Count + spinHeaders.Count);
        foreach (var (name, values) in headers)
            foreach (var value in values)
                if (value is not null)
                    fields.Add(name, value);
        foreach (var (name, value) in spinHeaders)
            fields.Add(name, value);
        return fields.Build(immutable: true);
    }

    private Fields? RequestTrailers()
    {
        if (_http.Features.Get<IHttpRequestTrailersFeature>() is not { Available: true, Trailers: { Count: > 0 } trailers })
            return null;
        var fields = new Fields.HostBuilder(trailers.Count);
        foreach (var (name, values) in trailers)
            foreach (var value in values)
                fields.Add(name, value ?? "");
        return fields.Build(immutable: true);
    }
}
