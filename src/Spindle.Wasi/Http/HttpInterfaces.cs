using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasi.Preview2.Interfaces;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Http;

/// <summary><c>wasi:http/types</c> and <c>wasi:http/outgoing-handler</c>, declared against the wasi:io resources.</summary>
public sealed class HttpInterfaces
{
    /// <summary><c>wasi:http/types</c>.</summary>
    public HostInterface Types { get; }

    /// <summary><c>wasi:http/outgoing-handler</c>.</summary>
    public HostInterface OutgoingHandler { get; }

    /// <summary>The <c>incoming-request</c> resource (host objects: <see cref="IncomingRequest"/>).</summary>
    public HostResourceType IncomingRequestType { get; }

    /// <summary>The <c>response-outparam</c> resource (host objects: <see cref="ResponseOutparam"/>).</summary>
    public HostResourceType ResponseOutparamType { get; }

    /// <summary>The <c>method</c> variant.</summary>
    public static readonly VariantType MethodType = T.Variant(
        ("get", null), ("head", null), ("post", null), ("put", null), ("delete", null), ("connect", null),
        ("options", null), ("trace", null), ("patch", null), ("other", T.String));

    /// <summary>The <c>scheme</c> variant.</summary>
    public static readonly VariantType SchemeType = T.Variant(("HTTP", null), ("HTTPS", null), ("other", T.String));

    /// <summary>The <c>header-error</c> variant.</summary>
    public static readonly VariantType HeaderErrorType = T.Variant(("invalid-syntax", null), ("forbidden", null), ("immutable", null));

    internal HttpInterfaces(string version, IoInterfaces io)
    {
        var t = Types = new HostInterface("wasi:http/types", version);
        t.UseResource("input-stream", io.InputStreamType);
        t.UseResource("output-stream", io.OutputStreamType);
        t.UseResource("io-error", io.ErrorType);
        t.UseResource("pollable", io.PollableType);
        t.DefineType("duration", T.U64);
        t.DefineType("method", MethodType);
        t.DefineType("scheme", SchemeType);
        t.DefineType("error-code", HttpErrorCode.Type);
        t.DefineType("DNS-error-payload", HttpErrorCode.DnsErrorPayload);
        t.DefineType("TLS-alert-received-payload", HttpErrorCode.TlsAlertReceivedPayload);
        t.DefineType("field-size-payload", HttpErrorCode.FieldSizePayload);
        t.DefineType("header-error", HeaderErrorType);
        t.DefineType("field-key", T.String);
        t.DefineType("field-name", T.String);
        t.DefineType("field-value", T.List(T.U8));
        t.DefineType("status-code", T.U16);

        var fields = t.DefineResource("fields");
        t.UseResource("headers", fields);
        t.UseResource("trailers", fields);
        IncomingRequestType = t.DefineResource("incoming-request");
        var outgoingRequest = t.DefineResource("outgoing-request");
        var requestOptions = t.DefineResource("request-options");
        ResponseOutparamType = t.DefineResource("response-outparam");
        var incomingResponse = t.DefineResource("incoming-response");
        var incomingBody = t.DefineResource("incoming-body");
        var futureTrailers = t.DefineResource("future-trailers");
        var outgoingResponse = t.DefineResource("outgoing-response");
        var outgoingBody = t.DefineResource("outgoing-body");
        var futureIncomingResponse = t.DefineResource("future-incoming-response");

        var errorCode = HttpErrorCode.Type;
        t.DefineFunc("http-error-code", T.Func([("err", T.Borrow(io.ErrorType))], T.Option(errorCode)),
            (_, a) => Args.Self<IoError>(a).HttpErrorCode is { } code ? new Some(code) : null);

        DefineFields(t, fields);

        // incoming-request
        var ir = ("self", (ValType)T.Borrow(IncomingRequestType));
        t.DefineFunc("[method]incoming-request.method", T.Func([ir], MethodType), (_, a) => HttpVariants.MethodValue(Args.Self<IncomingRequest>(a).Method));
        t.DefineFunc("[method]incoming-request.path-with-query", T.Func([ir], T.Option(T.String)), (_, a) => OptionOf(Args.Self<IncomingRequest>(a).PathWithQuery));
        t.DefineFunc("[method]incoming-request.scheme", T.Func([ir], T.Option(SchemeType)),
            (_, a) => Args.Self<IncomingRequest>(a).Scheme is { } s ? new Some(HttpVariants.SchemeValue(s)) : null);
        t.DefineFunc("[method]incoming-request.authority", T.Func([ir], T.Option(T.String)), (_, a) => OptionOf(Args.Self<IncomingRequest>(a).Authority));
        t.DefineFunc("[method]incoming-request.headers", T.Func([ir], T.Own(fields)), (_, a) => Args.Self<IncomingRequest>(a).Headers.ImmutableView());
        t.DefineFunc("[method]incoming-request.consume", T.Func([ir], T.Result(T.Own(incomingBody))),
            (_, a) => OkOrErr(Args.Self<IncomingRequest>(a).Consume()));

        // outgoing-request
        var or = ("self", (ValType)T.Borrow(outgoingRequest));
        t.DefineFunc("[constructor]outgoing-request", T.Func([("headers", T.Own(fields))], T.Own(outgoingRequest)), (_, a) => new OutgoingRequest(Args.At<Fields>(a, 0)));
        t.DefineFunc("[method]outgoing-request.body", T.Func([or], T.Result(T.Own(outgoingBody))), (_, a) => OkOrErr(Args.Self<OutgoingRequest>(a).TakeBody()));
        t.DefineFunc("[method]outgoing-request.method", T.Func([or], MethodType), (_, a) => HttpVariants.MethodValue(Args.Self<OutgoingRequest>(a).Method));
        t.DefineFunc("[method]outgoing-request.set-method", T.Func([or, ("method", MethodType)], T.Result()), (_, a) =>
        {
            if (HttpVariants.MethodString(a[1]) is not { } m)
                return ResultValue.Err();
            Args.Self<OutgoingRequest>(a).Method = m;
            return ResultValue.Ok();
        });
        t.DefineFunc("[method]outgoing-request.path-with-query", T.Func([or], T.Option(T.String)), (_, a) => OptionOf(Args.Self<OutgoingRequest>(a).PathWithQuery));
        t.DefineFunc("[method]outgoing-request.set-path-with-query", T.Func([or, ("path-with-query", T.Option(T.String))], T.Result()), (_, a) =>
        {
            var value = Args.Option(a[1]) as string;
            if (value is not null && !IsValidPathWithQuery(value))
                return ResultValue.Err();
            Args.Self<OutgoingRequest>(a).PathWithQuery = value;
            return ResultValue.Ok();
        });
        t.DefineFunc("[method]outgoing-request.scheme", T.Func([or], T.Option(SchemeType)),
            (_, a) => Args.Self<OutgoingRequest>(a).Scheme is { } s ? new Some(HttpVariants.SchemeValue(s)) : null);
        t.DefineFunc("[method]outgoing-request.set-scheme", T.Func([or, ("scheme", T.Option(SchemeType))], T.Result()), (_, a) =>
        {
            var value = Args.Option(a[1]);
            string? scheme = null;
            if (value is not null && (scheme = HttpVariants.SchemeString(value)) is null)
                return ResultValue.Err();
            Args.Self<OutgoingRequest>(a).Scheme = scheme;
            return ResultValue.Ok();
        });
        t.DefineFunc("[method]outgoing-request.authority", T.Func([or], T.Option(T.String)), (_, a) => OptionOf(Args.Self<OutgoingRequest>(a).Authority));
        t.DefineFunc("[method]outgoing-request.set-authority", T.Func([or, ("authority", T.Option(T.String))], T.Result()), (_, a) =>
        {
            var value = Args.Option(a[1]) as string;
            if (value is not null && !IsValidAuthority(value))
                return ResultValue.Err();
            Args.Self<OutgoingRequest>(a).Authority = value;
            return ResultValue.Ok();
        });
        t.DefineFunc("[method]outgoing-request.headers", T.Func([or], T.Own(fields)), (_, a) => Args.Self<OutgoingRequest>(a).Headers.ImmutableView());

        // request-options
        var ro = ("self", (ValType)T.Borrow(requestOptions));
        t.DefineFunc("[constructor]request-options", T.Func([], T.Own(requestOptions)), (_, _) => new RequestOptions());
        foreach (var (name, get, set) in new (string, Func<RequestOptions, ulong?>, Action<RequestOptions, ulong?>)[]
        {
            ("connect-timeout", o => o.ConnectTimeout, (o, v) => o.ConnectTimeout = v),
            ("first-byte-timeout", o => o.FirstByteTimeout, (o, v) => o.FirstByteTimeout = v),
            ("between-bytes-timeout", o => o.BetweenBytesTimeout, (o, v) => o.BetweenBytesTimeout = v),
        })
        {
            t.DefineFunc($"[method]request-options.{name}", T.Func([ro], T.Option(T.U64)),
                (_, a) => get(Args.Self<RequestOptions>(a)) is { } v ? new Some(v) : null);
            t.DefineFunc($"[method]request-options.set-{name}", T.Func([ro, ("duration", T.Option(T.U64))], T.Result()), (_, a) =>
            {
                set(Args.Self<RequestOptions>(a), Args.Option(a[1]) is { } v ? Convert.ToUInt64(v) : null);
                return ResultValue.Ok();
            });
        }

        // response-outparam
        t.DefineFunc("[method]response-outparam.send-informational",
            T.Func([("self", T.Borrow(ResponseOutparamType)), ("status", T.U16), ("headers", T.Own(fields))], T.Result(null, errorCode)),
            (_, _) => ResultValue.Err(HttpErrorCode.InternalError("informational responses are not supported")));
        t.DefineFunc("[static]response-outparam.set",
            T.Func([("param", T.Own(ResponseOutparamType)), ("response", T.Result(T.Own(outgoingResponse), errorCode))]), (_, a) =>
            {
                Args.At<ResponseOutparam>(a, 0).Set(Args.At<ResultValue>(a, 1));
                return null;
            });

        // incoming-response
        var irs = ("self", (ValType)T.Borrow(incomingResponse));
        t.DefineFunc("[method]incoming-response.status", T.Func([irs], T.U16), (_, a) => Args.Self<IncomingResponse>(a).Status);
        t.DefineFunc("[method]incoming-response.headers", T.Func([irs], T.Own(fields)), (_, a) => Args.Self<IncomingResponse>(a).Headers.ImmutableView());
        t.DefineFunc("[method]incoming-response.consume", T.Func([irs], T.Result(T.Own(incomingBody))), (_, a) => OkOrErr(Args.Self<IncomingResponse>(a).Consume()));

        // incoming-body, future-trailers
        t.DefineFunc("[method]incoming-body.stream", T.Func([("self", T.Borrow(incomingBody))], T.Result(T.Own(io.InputStreamType))),
            (_, a) => OkOrErr(Args.Self<IncomingBody>(a).TakeStream()));
        t.DefineFunc("[static]incoming-body.finish", T.Func([("this", T.Own(incomingBody))], T.Own(futureTrailers)),
            (_, a) => Args.At<IncomingBody>(a, 0).Finish());
        t.DefineFunc("[method]future-trailers.subscribe", T.Func([("self", T.Borrow(futureTrailers))], T.Own(io.PollableType)),
            (_, a) => Args.Self<FutureTrailers>(a).Subscribe());
        t.DefineFunc("[method]future-trailers.get",
            T.Func([("self", T.Borrow(futureTrailers))], T.Option(T.Result(T.Result(T.Option(T.Own(fields)), errorCode)))),
            (_, a) => Args.Self<FutureTrailers>(a).Get());

        // outgoing-response
        var ors = ("self", (ValType)T.Borrow(outgoingResponse));
        t.DefineFunc("[constructor]outgoing-response", T.Func([("headers", T.Own(fields))], T.Own(outgoingResponse)), (_, a) => new OutgoingResponse(Args.At<Fields>(a, 0)));
        t.DefineFunc("[method]outgoing-response.status-code", T.Func([ors], T.U16), (_, a) => Args.Self<OutgoingResponse>(a).StatusCode);
        t.DefineFunc("[method]outgoing-response.set-status-code", T.Func([ors, ("status-code", T.U16)], T.Result()),
            (_, a) => Args.Self<OutgoingResponse>(a).TrySetStatusCode(Args.U16(a, 1)) ? ResultValue.Ok() : ResultValue.Err());
        t.DefineFunc("[method]outgoing-response.headers", T.Func([ors], T.Own(fields)), (_, a) => Args.Self<OutgoingResponse>(a).Headers.ImmutableView());
        t.DefineFunc("[method]outgoing-response.body", T.Func([ors], T.Result(T.Own(outgoingBody))), (_, a) => OkOrErr(Args.Self<OutgoingResponse>(a).TakeBody()));

        // outgoing-body
        t.DefineFunc("[method]outgoing-body.write", T.Func([("self", T.Borrow(outgoingBody))], T.Result(T.Own(io.OutputStreamType))),
            (_, a) => OkOrErr(Args.Self<OutgoingBody>(a).TakeStream()));
        t.DefineFunc("[static]outgoing-body.finish", T.Func([("this", T.Own(outgoingBody)), ("trailers", T.Option(T.Own(fields)))], T.Result(null, errorCode)),
            (_, a) => Args.At<OutgoingBody>(a, 0).Finish(Args.Option(a[1]) as Fields)
                ? ResultValue.Ok()
                : ResultValue.Err(HttpErrorCode.InternalError("outgoing-body already finished")));

        // future-incoming-response
        t.DefineFunc("[method]future-incoming-response.subscribe", T.Func([("self", T.Borrow(futureIncomingResponse))], T.Own(io.PollableType)),
            (_, a) => Args.Self<FutureIncomingResponse>(a).Subscribe());
        t.DefineFunc("[method]future-incoming-response.get",
            T.Func([("self", T.Borrow(futureIncomingResponse))], T.Option(T.Result(T.Result(T.Own(incomingResponse), errorCode)))),
            (_, a) => Args.Self<FutureIncomingResponse>(a).Get());

        var h = OutgoingHandler = new HostInterface("wasi:http/outgoing-handler", version);
        h.UseResource("outgoing-request", outgoingRequest);
        h.UseResource("request-options", requestOptions);
        h.UseResource("future-incoming-response", futureIncomingResponse);
        h.DefineType("error-code", errorCode);
        h.DefineFunc("handle",
            T.Func([("request", T.Own(outgoingRequest)), ("options", T.Option(T.Own(requestOptions)))], T.Result(T.Own(futureIncomingResponse), errorCode)),
            (c, a) => Handle(c, Args.At<OutgoingRequest>(a, 0), Args.Option(a[1]) as RequestOptions));
    }

    private static void DefineFields(HostInterface t, HostResourceType fields)
    {
        var self = ("self", (ValType)T.Borrow(fields));
        var entry = T.Tuple(T.String, T.List(T.U8));
        var headerResult = T.Result(null, HeaderErrorType);
        t.DefineFunc("[constructor]fields", T.Func([], T.Own(fields)), (_, _) => new Fields());
        t.DefineFunc("[static]fields.from-list", T.Func([("entries", T.List(entry))], T.Result(T.Own(fields), HeaderErrorType)), (_, a) =>
        {
            var list = Args.List(a[0]).Select(e =>
            {
                var pair = Args.List(e);
                return new KeyValuePair<string, byte[]>((string)pair[0]!, Args.Bytes(pair[1]).ToArray());
            });
            var result = Fields.FromList(list, out var error);
            return error is { } err ? ResultValue.Err(new VariantValue((int)err)) : ResultValue.Ok(result);
        });
        t.DefineFunc("[method]fields.get", T.Func([self, ("name", T.String)], T.List(T.List(T.U8))),
            (_, a) => Args.Self<Fields>(a).Get(Args.Str(a, 1)).Select(v => (object?)v).ToArray());
        t.DefineFunc("[method]fields.has", T.Func([self, ("name", T.String)], T.Bool), (_, a) => Args.Self<Fields>(a).Has(Args.Str(a, 1)));
        t.DefineFunc("[method]fields.set", T.Func([self, ("name", T.String), ("value", T.List(T.List(T.U8)))], headerResult),
            (_, a) => HeaderResult(Args.Self<Fields>(a).Set(Args.Str(a, 1), Args.List(a[2]).Select(v => Args.Bytes(v).ToArray()).ToArray())));
        t.DefineFunc("[method]fields.delete", T.Func([self, ("name", T.String)], headerResult),
            (_, a) => HeaderResult(Args.Self<Fields>(a).Delete(Args.Str(a, 1))));
        t.DefineFunc("[method]fields.append", T.Func([self, ("name", T.String), ("value", T.List(T.U8))], headerResult),
            (_, a) => HeaderResult(Args.Self<Fields>(a).Append(Args.Str(a, 1), Args.Bytes(a[2]).ToArray())));
        t.DefineFunc("[method]fields.entries", T.Func([self], T.List(entry)),
            (_, a) => Args.Self<Fields>(a).Entries.Select(e => (object?)new object?[] { e.Key, e.Value }).ToArray());
        t.DefineFunc("[method]fields.clone", T.Func([self], T.Own(fields)), (_, a) => Args.Self<Fields>(a).Clone());
    }

    private static ResultValue Handle(HostCallContext context, OutgoingRequest request, RequestOptions? options)
    {
        if (context.StoreData is not WasiHttpContext { Outbound: { } outbound })
            return ResultValue.Err(HttpErrorCode.RequestDenied());
        Task<IncomingResponse> response;
        // The request's own cancellation: the guest dropping the future ends it, as does the caller's deadline.
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
        try
        {
            response = outbound(request, options, (WasiHttpContext)context.StoreData, cancel.Token);
        }
        catch (HttpErrorCodeException e)
        {
            cancel.Dispose();
            return ResultValue.Err(e.Code);
        }
        // A handler that refuses synchronously answers the error from handle itself, like wasmtime.
        if (response is { IsFaulted: true, Exception.InnerException: HttpErrorCodeException refused })
        {
            cancel.Dispose();
            return ResultValue.Err(refused.Code);
        }
        return ResultValue.Ok(new FutureIncomingResponse(response, cancel));
    }

    private static Some? OptionOf(string? value) => value is null ? null : new Some(value);

    private static ResultValue OkOrErr(object? value) => value is null ? ResultValue.Err() : ResultValue.Ok(value);

    private static ResultValue HeaderResult(HeaderError? error) => error is { } e ? ResultValue.Err(new VariantValue((int)e)) : ResultValue.Ok();

    private static bool IsValidPathWithQuery(string value) =>
        value.Length > 0 && value.All(c => c > 0x20 && c < 0x7f) && (value[0] == '/' || value[0] == '?' || value == "*");

    private static bool IsValidAuthority(string value)
    {
        if (value.Length == 0)
            return true;
        // A guest sets the same few authorities on every request: each is parsed once (a Uri per set-authority was
        // a visible share of a proxy's request). The cache holds short names only and stops growing at its bound;
        // anything else is parsed each time.
        var cacheable = value.Length <= MaxCachedAuthorityLength;
        if (cacheable && ValidAuthorities.TryGetValue(value, out var valid))
            return valid;
        valid = value.All(c => c > 0x20 && c < 0x7f)
            && Uri.TryCreate("http://" + value + "/", UriKind.Absolute, out var uri)
            && uri.PathAndQuery == "/" && uri.UserInfo.Length == 0;
        if (cacheable && ValidAuthorities.Count < MaxCachedAuthorities)
            ValidAuthorities.TryAdd(value, valid);
        return valid;
    }

    private const int MaxCachedAuthorities = 1024;
    private const int MaxCachedAuthorityLength = 255;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> ValidAuthorities = new(StringComparer.Ordinal);
}
