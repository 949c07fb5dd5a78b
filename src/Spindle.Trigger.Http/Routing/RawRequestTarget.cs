using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Spindle.Trigger.Http.Routing;

/// <summary>The request target as the client sent it, which routing and the <c>spin-*</c> headers are computed from.</summary>
public static class RawRequestTarget
{
    /// <summary>
    /// The request path exactly as sent (still percent-encoded), and path plus query. Kestrel's
    /// <see cref="HttpRequest.Path"/> is decoded, which would change routing (<c>/caf%C3%A9</c> must not match <c>/café</c>).
    /// </summary>
    public static (string Path, string PathAndQuery) RawPathAndQuery(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw))
            raw = context.Request.PathBase.Add(context.Request.Path).ToUriComponent() + context.Request.QueryString.ToUriComponent();
        if (!raw.StartsWith('/'))
        {
            // absolute-form (http://host/path?q) or asterisk-form (*)
            var scheme = raw.IndexOf("://", StringComparison.Ordinal);
            if (scheme < 0) raw = "/";
            else
            {
                var slash = raw.IndexOfAny(['/', '?'], scheme + 3);
                raw = slash < 0 ? "/" : raw[slash] == '?' ? "/" + raw[slash..] : raw[slash..];
            }
        }
        var q = raw.IndexOf('?');
        return (q < 0 ? raw : raw[..q], raw);
    }
}
