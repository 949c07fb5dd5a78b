using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Spindle.Trigger.Http.Routing;

namespace Spindle.Trigger.Http.Executors.Wagi;

/// <summary>
/// Builds the Wagi process environment and argv for one request (spec §4.1, §4.2): the component's own
/// <c>environment</c> first, then the CGI set, with the Spin set (<c>X_*</c>, <c>PATH_INFO</c>...) overwriting
/// same-named CGI keys.
/// </summary>
public static class WagiCgiEnvironment
{
    /// <summary>The default argv template.</summary>
    public const string DefaultArgv = "${SCRIPT_NAME} ${ARGS}";

    /// <summary>Builds the environment for <paramref name="request"/>.</summary>
    /// <param name="request">The routed request.</param>
    /// <param name="componentEnvironment">The component's manifest <c>environment</c>, in order.</param>
    /// <param name="contentLength">The body length handed to the guest on stdin.</param>
    public static List<KeyValuePair<string, string>> Build(
        InboundRequest request, IReadOnlyList<KeyValuePair<string, string>> componentEnvironment, long contentLength)
    {
        var http = request.Http.Request;
        var route = request.Route;
        var (serverName, serverPort) = SplitHost(http.Headers.Host);

        // Insertion-ordered with overwrite: the Spin set replaces same-named CGI keys in place.
        var cgi = new OrderedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["AUTH_TYPE"] = "",
            ["CONTENT_LENGTH"] = contentLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Spin looks up a header literally named "content_type", which clients never send (spec §4.1).
            ["CONTENT_TYPE"] = LastValue(http.Headers["content_type"]) ?? "",
            ["GATEWAY_INTERFACE"] = "CGI/1.1",
            ["SERVER_SOFTWARE"] = "WAGI/1",
            ["SERVER_PROTOCOL"] = ProtocolText(http.Protocol),
            ["REQUEST_METHOD"] = http.Method,
            ["QUERY_STRING"] = RawQuery(request.Http),
            ["REMOTE_ADDR"] = ClientIp(request.ClientAddr),
            ["REMOTE_HOST"] = ClientIp(request.ClientAddr),
            ["REMOTE_USER"] = "",
            ["SERVER_NAME"] = serverName,
            ["SERVER_PORT"] = serverPort,
            ["SCRIPT_NAME"] = ScriptName(route),
            ["PATH_INFO"] = route.PathInfo,
            ["X_RAW_PATH_INFO"] = route.PathInfo,
            ["PATH_TRANSLATED"] = PercentDecodeLossy(route.PathInfo),
            ["X_FULL_URL"] = request.FullUrl,
        };
        foreach (var header in http.Headers)
        {
            if (header.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase)
                || header.Key.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                continue;
            cgi["HTTP_" + header.Key.ToUpperInvariant().Replace('-', '_')] = LastValue(header.Value) ?? "";
        }

        // The Spin set (spec §3.1 names), overwriting.
        cgi["X_MATCHED_ROUTE"] = route.MatchedRoute;
        cgi["X_COMPONENT_ROUTE"] = route.ComponentRoute;
        cgi["X_RAW_COMPONENT_ROUTE"] = route.RawRoute;
        cgi["X_BASE_PATH"] = route.BasePath;
        cgi["X_CLIENT_ADDR"] = request.ClientAddr;
        cgi["PATH_INFO"] = route.PathInfo;
        cgi["X_FULL_URL"] = request.FullUrl;
        foreach (var (name, value) in route.Parameters)
            cgi["X_PATH_MATCH_" + name.ToUpperInvariant()] = value; // a repeated name keeps the last capture

        var result = new List<KeyValuePair<string, string>>(componentEnvironment.Count + cgi.Count);
        result.AddRange(componentEnvironment);
        result.AddRange(cgi);
        return result;
    }

    /// <summary>
    /// Expands the argv template: <c>${SCRIPT_NAME}</c> is the request path (raw), <c>${ARGS}</c> the raw query
    /// with every <c>&amp;</c> turned into a space; the result is split on single spaces (empty parts kept).
    /// </summary>
    public static string[] BuildArgv(string template, string requestPath, string rawQuery) =>
        template.Replace("${SCRIPT_NAME}", requestPath, StringComparison.Ordinal)
            .Replace("${ARGS}", rawQuery.Replace('&', ' '), StringComparison.Ordinal)
            .Split(' ');

    /// <summary>The raw (undecoded) request path, from the request target as the client sent it.</summary>
    public static string RawPath(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!string.IsNullOrEmpty(target) && target[0] == '/')
        {
            var q = target.IndexOf('?');
            return q < 0 ? target : target[..q];
        }
        return (context.Request.PathBase + context.Request.Path).ToUriComponent();
    }

    /// <summary>The raw query string without <c>?</c>.</summary>
    public static string RawQuery(HttpContext context)
    {
        var query = context.Request.QueryString.Value;
        return string.IsNullOrEmpty(query) ? "" : query.TrimStart('?');
    }

    /// <summary>The based route without a trailing <c>/...</c> (the pattern, parameters not substituted).</summary>
    public static string ScriptName(RouteMatch route) =>
        route.MatchedRoute.EndsWith("/...", StringComparison.Ordinal) ? route.MatchedRoute[..^4] : route.MatchedRoute;

    /// <summary>Percent-decodes, then reads the bytes as UTF-8 with U+FFFD for invalid sequences.</summary>
    public static string PercentDecodeLossy(string raw)
    {
        if (!raw.Contains('%')) return raw;
        var bytes = new List<byte>(raw.Length);
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '%' && i + 2 < raw.Length
                && Uri.IsHexDigit(raw[i + 1]) && Uri.IsHexDigit(raw[i + 2]))
            {
                bytes.Add((byte)Convert.ToInt32(raw.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
                bytes.AddRange(Encoding.UTF8.GetBytes(raw[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static string ProtocolText(string protocol) => protocol switch
    {
        "HTTP/2" => "HTTP/2.0",
        "HTTP/3" => "HTTP/3.0",
        _ => protocol,
    };

    private static string ClientIp(string clientAddr) =>
        IPEndPoint.TryParse(clientAddr, out var endpoint) ? endpoint.Address.ToString() : clientAddr;

    /// <summary>Host part and port of the <c>Host</c> header; <c>default_host</c> and <c>80</c> when absent.</summary>
    private static (string Name, string Port) SplitHost(StringValues hostHeader)
    {
        var host = LastValue(hostHeader);
        if (string.IsNullOrEmpty(host)) return ("default_host", "80");
        var hostString = new HostString(host);
        return (hostString.Host, hostString.Port?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "80");
    }

    private static string? LastValue(StringValues values) => values.Count == 0 ? null : values[values.Count - 1];
}
