using System.Text;
using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Trigger.Http.Spin.Legacy;

/// <summary>
/// Spin's first-generation configuration and outbound HTTP interfaces, unversioned <c>fermyon:spin/config</c>
/// (<c>get-config</c>, the old name of variables) and <c>fermyon:spin/http</c> (<c>send-request</c>); the Spin ≤ 1.3
/// modules import the same functions as <c>spin-config</c> and <c>wasi-outbound-http</c>. Both run over what the
/// current interfaces use: the variable providers, and the application's outbound dispatcher (allow-list, pools,
/// chaining, self-requests), with Spin's legacy differences (reference §7.8): a URI starting with <c>/</c> is a
/// self-request, a denied host is <c>destination-not-allowed</c>, the whole response is buffered and one over
/// 128 MiB is a <c>runtime-error</c>.
/// </summary>
public static class LegacySpinInterfaces
{
    /// <summary>The configuration <c>error</c> variant: <c>provider(string)</c>, <c>invalid-key(string)</c>, <c>invalid-schema(string)</c>, <c>other(string)</c>.</summary>
    public static VariantType ConfigErrorType { get; } = T.Variant(("provider", T.String), ("invalid-key", T.String), ("invalid-schema", T.String), ("other", T.String));

    /// <summary>Most bytes of a response (headers and body) the host buffers for the guest, as Spin.</summary>
    public const long MaxResponseBytes = 128L << 20;

    /// <summary>Adds both interfaces to <paramref name="registry"/>.</summary>
    public static HostRegistry AddTo(HostRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var config = new HostInterface("fermyon:spin/config", "");
        config.DefineType("error", ConfigErrorType);
        config.DefineFunc("get-config", T.Func([("key", T.String)], T.Result(T.String, ConfigErrorType)), (c, a) => GetConfig(c, (string)a[0]!));
        registry.Add(config);

        var http = new HostInterface("fermyon:spin/http", "");
        http.DefineType("request", LegacyHttpTypes.Request);
        http.DefineType("response", LegacyHttpTypes.Response);
        http.DefineType("http-error", LegacyHttpTypes.HttpError);
        http.DefineAsyncFunc("send-request", T.Func([("req", LegacyHttpTypes.Request)], T.Result(LegacyHttpTypes.Response, LegacyHttpTypes.HttpError)),
            (c, a) => SendAsync(c, (object?[])a[0]!));
        registry.Add(http);
        return registry;
    }

    /// <summary><c>get-config</c> is <c>variables.get</c> with Spin's mapping of its errors.</summary>
    private static ResultValue GetConfig(HostCallContext c, string key)
    {
        var result = c.StoreData is ISpinVariablesContext v
            ? SpinVariablesInterfaces.Get(v.Variables, v.ComponentId, key)
            : ResultValue.Err(new VariantValue((int)SpinVariablesInterfaces.ErrorCase.Other, "variables are not available to this component"));
        if (result.IsOk) return result;
        var error = (VariantValue)result.Value!;
        var legacy = (SpinVariablesInterfaces.ErrorCase)error.Case switch
        {
            SpinVariablesInterfaces.ErrorCase.InvalidName => 1,   // invalid-key
            SpinVariablesInterfaces.ErrorCase.Undefined => 0,     // provider
            _ => 3,                                               // other
        };
        return ResultValue.Err(new VariantValue(legacy, error.Payload));
    }

    private static ResultValue Fail(LegacyHttpTypes.Error error) => ResultValue.Err((int)error);

    private static async ValueTask<object?> SendAsync(HostCallContext c, object?[] r)
    {
        if (c.StoreData is not WasiHttpContext { Outbound: { } outbound } caller) return Fail(LegacyHttpTypes.Error.DestinationNotAllowed);
        var uri = (string)r[1]!;
        var headers = new Fields.HostBuilder(((object?[])r[2]!).Length);
        foreach (var pair in (object?[])r[2]!)
        {
            var (name, value) = ((string)((object?[])pair!)[0]!, (string)((object?[])pair!)[1]!);
            // The client sets Host and the connection headers itself (Spin's wasi:http path removes Host too).
            if (Fields.IsForbidden(name)) continue;
            if (!Fields.IsValidName(name) || !Fields.IsValidValue(Encoding.UTF8.GetBytes(value))) return Fail(LegacyHttpTypes.Error.RuntimeError);
            headers.Add(name, value);
        }
        var request = new OutgoingRequest(headers.Build(immutable: false)) { Method = LegacyHttpTypes.MethodNames[(int)r[0]!] };
        if (uri.StartsWith('/'))
            request.PathWithQuery = uri; // no authority: a self-request, allowed only by a "self" entry
        else if (Uri.TryCreate(uri, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https" && absolute.UserInfo.Length == 0)
        {
            request.Scheme = absolute.Scheme;
            request.Authority = absolute.IsDefaultPort ? absolute.Host : absolute.Authority; // a default port written out is dropped, as Spin does
            request.PathWithQuery = absolute.PathAndQuery;
        }
        else
            return Fail(LegacyHttpTypes.Error.InvalidUrl);

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(c.Cancellation);
        IncomingResponse response;
        try
        {
            // As a wasi:http guest does: take the body before sending (the sender streams a taken body), write it
            // while the request is in flight (the pipe would fill before anyone reads it), then finish it.
            var content = r[4] is Some { Value: var bytes } ? Bytes(bytes) : [];
            var body = content.Length > 0 ? request.TakeBody() : null;
            var pending = outbound(request, null, caller, cancel.Token);
            if (body is not null)
            {
                using (var stream = body.TakeStream()!)
                    if (await stream.BlockingWriteAndFlushAsync(content, cancel.Token).ConfigureAwait(false) is not null)
                        return Fail(LegacyHttpTypes.Error.RuntimeError);
                body.Finish(null);
            }
            response = await pending.ConfigureAwait(false);
        }
        catch (HttpErrorCodeException e)
        {
            return Fail(HttpErrorCode.NameOf(e.Code) switch
            {
                "HTTP-request-denied" => LegacyHttpTypes.Error.DestinationNotAllowed,
                "HTTP-request-URI-invalid" => LegacyHttpTypes.Error.InvalidUrl,
                "connection-limit-reached" => LegacyHttpTypes.Error.TooManyRequests,
                _ => LegacyHttpTypes.Error.RuntimeError,
            });
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException && !c.Cancellation.IsCancellationRequested)
        {
            return Fail(LegacyHttpTypes.Error.RuntimeError);
        }
        using (response)
            return await ReadAsync(response, c.Cancellation).ConfigureAwait(false);
    }

    /// <summary>The whole response as the guest's record; over <see cref="MaxResponseBytes"/> is a <c>runtime-error</c>.</summary>
    private static async ValueTask<ResultValue> ReadAsync(IncomingResponse response, CancellationToken cancellation)
    {
        var headers = new List<object?>();
        long total = 0;
        foreach (var (name, value) in response.Headers.Entries)
        {
            // Spin drops a header value that is not text.
            if (!Ascii.IsValid(value)) continue;
            headers.Add(new object?[] { name, Encoding.ASCII.GetString(value) });
            total += name.Length + value.Length;
        }
        using var stream = response.Consume()?.TakeStream();
        var body = new MemoryStream();
        while (stream is not null)
        {
            var read = await stream.BlockingReadAsync(64 * 1024, cancellation).ConfigureAwait(false);
            if (total + body.Length + read.Data.Length > MaxResponseBytes) return Fail(LegacyHttpTypes.Error.RuntimeError);
            body.Write(read.Data);
            if (read.Error == StreamError.Closed) break;
            if (read.Error is not null) return Fail(LegacyHttpTypes.Error.RuntimeError);
        }
        return ResultValue.Ok(new object?[] { response.Status, new Some(headers.ToArray()), new Some(body.ToArray()) });
    }

    private static byte[] Bytes(object? value) => value switch
    {
        byte[] b => b,
        ReadOnlyMemory<byte> m => m.ToArray(),
        _ => [],
    };
}
