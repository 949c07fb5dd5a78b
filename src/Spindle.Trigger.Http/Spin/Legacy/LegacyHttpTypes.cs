using Spindle.Components.Types;

namespace Spindle.Trigger.Http.Spin.Legacy;

/// <summary>
/// The types of Spin's first-generation HTTP interfaces (<c>http-types</c> in Spin 1.x's WIT; the same in both
/// generations): a request and a response with whole bodies, the method as an enum.
/// </summary>
public static class LegacyHttpTypes
{
    /// <summary>The method names, in the order of the WIT <c>method</c> enum.</summary>
    public static IReadOnlyList<string> MethodNames { get; } = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

    /// <summary><c>enum method { get, post, put, delete, patch, head, options }</c>.</summary>
    public static EnumType Method { get; } = T.Enum("get", "post", "put", "delete", "patch", "head", "options");

    /// <summary><c>list&lt;tuple&lt;string, string&gt;&gt;</c> (headers, and the params no host fills).</summary>
    public static ListType Headers { get; } = T.List(T.Tuple(T.String, T.String));

    /// <summary><c>record request { method, uri, headers, params, body: option&lt;list&lt;u8&gt;&gt; }</c>.</summary>
    public static RecordType Request { get; } = T.Record(("method", Method), ("uri", T.String), ("headers", Headers), ("params", Headers),
        ("body", T.Option(T.List(T.U8))));

    /// <summary><c>record response { status: u16, headers: option&lt;headers&gt;, body: option&lt;list&lt;u8&gt;&gt; }</c>.</summary>
    public static RecordType Response { get; } = T.Record(("status", T.U16), ("headers", T.Option(Headers)), ("body", T.Option(T.List(T.U8))));

    /// <summary><c>enum http-error { success, destination-not-allowed, invalid-url, request-error, runtime-error, too-many-requests }</c>.</summary>
    public static EnumType HttpError { get; } = T.Enum("success", "destination-not-allowed", "invalid-url", "request-error", "runtime-error", "too-many-requests");

    /// <summary>The inbound export: <c>handle-request: func(req: request) -> response</c>.</summary>
    public static FuncType HandleRequest { get; } = T.Func([("req", Request)], Response);

    /// <summary>Case indexes of <see cref="HttpError"/>.</summary>
    public enum Error
    {
        /// <summary><c>destination-not-allowed</c>: the allow-list refused the URL.</summary>
        DestinationNotAllowed = 1,

        /// <summary><c>invalid-url</c>: not an absolute http(s) URL nor a path.</summary>
        InvalidUrl = 2,

        /// <summary><c>request-error</c>.</summary>
        RequestError = 3,

        /// <summary><c>runtime-error</c>: anything else (connection failures, a response over 128 MiB).</summary>
        RuntimeError = 4,

        /// <summary><c>too-many-requests</c>: no outbound connection permit.</summary>
        TooManyRequests = 5,
    }
}
