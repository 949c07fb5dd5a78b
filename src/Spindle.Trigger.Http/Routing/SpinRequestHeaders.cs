using System.Net;
using System.Text;

namespace Spindle.Trigger.Http.Routing;

/// <summary>The <c>spin-*</c> request headers (spec §3.1) and the Wagi path variables (spec §4.1) for a match.</summary>
public static class SpinRequestHeaders
{
    /// <summary><c>spin-full-url</c></summary>
    public const string FullUrl = "spin-full-url";
    /// <summary><c>spin-path-info</c></summary>
    public const string PathInfo = "spin-path-info";
    /// <summary><c>spin-matched-route</c></summary>
    public const string MatchedRoute = "spin-matched-route";
    /// <summary><c>spin-base-path</c></summary>
    public const string BasePath = "spin-base-path";
    /// <summary><c>spin-raw-component-route</c></summary>
    public const string RawComponentRoute = "spin-raw-component-route";
    /// <summary><c>spin-component-route</c></summary>
    public const string ComponentRoute = "spin-component-route";
    /// <summary><c>spin-client-addr</c></summary>
    public const string ClientAddr = "spin-client-addr";
    /// <summary>Prefix of the per-parameter headers.</summary>
    public const string PathMatchPrefix = "spin-path-match-";

    /// <summary>The headers to append after the client's own, in Spin's order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Compute(RouteMatch match, string fullUrl, string clientAddr)
    {
        var h = new List<KeyValuePair<string, string>>(8 + match.Parameters.Count)
        {
            new(FullUrl, fullUrl),
            new(PathInfo, match.PathInfo),
            new(MatchedRoute, match.MatchedRoute),
            new(BasePath, match.BasePath),
            new(RawComponentRoute, match.RawRoute),
            new(ComponentRoute, match.ComponentRoute),
            new(ClientAddr, clientAddr),
        };
        foreach (var (name, value) in match.Parameters)
            h.Add(new(PathMatchPrefix + name.ToLowerInvariant().Replace('_', '-'), value));
        return h;
    }

    /// <summary><c>&lt;scheme&gt;://&lt;Host, or localhost&gt;&lt;raw path and query&gt;</c>.</summary>
    public static string ComputeFullUrl(string scheme, string? host, string pathAndQuery) =>
        $"{scheme}://{(string.IsNullOrEmpty(host) ? "localhost" : host)}{pathAndQuery}";

    /// <summary>
    /// The path-related Wagi variables: <c>SCRIPT_NAME</c>, <c>PATH_INFO</c>, <c>X_RAW_PATH_INFO</c>,
    /// <c>PATH_TRANSLATED</c> (percent-decoded, lossy UTF-8), <c>X_MATCHED_ROUTE</c>, <c>X_COMPONENT_ROUTE</c>,
    /// <c>X_RAW_COMPONENT_ROUTE</c>, <c>X_BASE_PATH</c>, <c>X_PATH_MATCH_&lt;NAME&gt;</c>.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> WagiPathVariables(RouteMatch match)
    {
        var scriptName = match.MatchedRoute.EndsWith("/...", StringComparison.Ordinal) ? match.MatchedRoute[..^4] : match.MatchedRoute;
        var vars = new List<KeyValuePair<string, string>>
        {
            new("SCRIPT_NAME", scriptName),
            new("X_MATCHED_ROUTE", match.MatchedRoute),
            new("PATH_INFO", match.PathInfo),
            new("X_RAW_PATH_INFO", match.PathInfo),
            new("PATH_TRANSLATED", PercentDecodeLossy(match.PathInfo)),
            new("X_COMPONENT_ROUTE", match.ComponentRoute),
            new("X_RAW_COMPONENT_ROUTE", match.RawRoute),
            new("X_BASE_PATH", match.BasePath),
        };
        foreach (var (name, value) in match.Parameters)
            vars.Add(new("X_PATH_MATCH_" + name.ToUpperInvariant(), value));
        return vars;
    }

    /// <summary>Percent-decodes bytes, then reads them as UTF-8 with replacement characters (Rust's lossy decode).</summary>
    public static string PercentDecodeLossy(string s)
    {
        if (!s.Contains('%')) return s;
        var bytes = new List<byte>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '%' && i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]))
            {
                bytes.Add((byte)((HexValue(s[i + 1]) << 4) | HexValue(s[i + 2])));
                i += 2;
            }
            else
                bytes.AddRange(Encoding.UTF8.GetBytes(s[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary><c>ip:port</c> of the peer (<c>[v6]:port</c> for IPv6).</summary>
    public static string FormatClientAddr(IPAddress? ip, int port) =>
        ip is null ? "0.0.0.0:0" : new IPEndPoint(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip, port).ToString();
}
