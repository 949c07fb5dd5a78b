namespace Spindle.Outbound.AllowedHosts;

/// <summary>
/// Converts the deprecated <c>allowed_http_hosts</c> to <c>allowed_outbound_hosts</c> entries as Spin's compat
/// layer does (spec §7.6): <c>self</c> → <c>http://self</c>; <c>host[:port]</c> or <c>http(s)://host[:port][/]</c> →
/// both <c>http://</c> and <c>https://</c> (a default port written out disappears); <c>insecure:allow-all</c>
/// anywhere → allow everything over http/https plus self.
/// </summary>
public static class LegacyAllowedHttpHosts
{
    /// <summary>Converts the list.</summary>
    /// <exception cref="AllowedHostException">An entry with another scheme or a path.</exception>
    public static IReadOnlyList<string> Convert(IEnumerable<string> hosts)
    {
        var list = hosts.ToList();
        if (list.Contains("insecure:allow-all"))
            return ["http://*:*", "https://*:*", "http://self"];
        var result = new List<string>();
        foreach (var h in list)
        {
            if (h == "self")
            {
                result.Add("http://self");
                continue;
            }
            var scheme = "http";
            var rest = h;
            var sep = h.IndexOf("://", StringComparison.Ordinal);
            if (sep >= 0)
            {
                scheme = h[..sep];
                rest = h[(sep + 3)..];
                if (scheme is not ("http" or "https"))
                    throw new AllowedHostException(h, $"allowed_http_hosts entry {AllowedHostEntry.Quote(h)}: only http and https schemes are allowed");
            }
            var slash = rest.IndexOf('/');
            if (slash >= 0)
            {
                if (rest[slash..] != "/")
                    throw new AllowedHostException(h, $"allowed_http_hosts entry {AllowedHostEntry.Quote(h)} has a path but is not allowed to");
                rest = rest[..slash];
            }
            if (!RequestTarget.TryParse($"{scheme}://{rest}", scheme, out var target) || rest.Length == 0)
                throw new AllowedHostException(h, $"allowed_http_hosts entry {AllowedHostEntry.Quote(h)} is not a valid host");
            // URL parsing drops a port equal to the scheme's default.
            var port = target.Port is { } p && p != AllowedHostEntry.WellKnownPort(scheme) ? $":{p}" : "";
            result.Add($"http://{target.Host}{port}");
            result.Add($"https://{target.Host}{port}");
        }
        return result;
    }
}
