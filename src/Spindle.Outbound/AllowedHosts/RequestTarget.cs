namespace Spindle.Outbound.AllowedHosts;

/// <summary>The scheme, host and port of an outbound request: all the allow-list looks at.</summary>
/// <param name="Scheme">Lower-cased scheme.</param>
/// <param name="Host">Normalised host.</param>
/// <param name="Port">Explicit port, or <c>null</c>.</param>
public readonly record struct RequestTarget(string Scheme, HostName Host, int? Port)
{
    /// <summary>
    /// Extracts the authority of <paramref name="url"/>, ignoring user-info (which may hold <c>#</c> or <c>:</c>),
    /// path, query and fragment. A URL without <c>://</c> gets <paramref name="defaultScheme"/>.
    /// </summary>
    public static bool TryParse(string url, string defaultScheme, out RequestTarget target)
    {
        target = default;
        string scheme, rest;
        var sep = url.IndexOf("://", StringComparison.Ordinal);
        if (sep > 0 && url[..sep].All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.') && char.IsAsciiLetter(url[0]))
        {
            scheme = url[..sep].ToLowerInvariant();
            rest = url[(sep + 3)..];
        }
        else
        {
            scheme = defaultScheme;
            rest = url;
        }
        var end = rest.IndexOfAny(['/', '?']);
        var authority = end < 0 ? rest : rest[..end];
        var at = authority.LastIndexOf('@');
        if (at >= 0) authority = authority[(at + 1)..];
        var hash = authority.IndexOf('#');
        if (hash >= 0) authority = authority[..hash];

        string hostText;
        string? portText = null;
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']');
            if (close < 0) return false;
            hostText = authority[..(close + 1)];
            var after = authority[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':') return false;
                portText = after[1..];
            }
        }
        else
        {
            var colon = authority.LastIndexOf(':');
            hostText = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? null : authority[(colon + 1)..];
        }
        if (hostText.Length == 0) return false;
        var host = HostName.TryParse(hostText, out _);
        if (host is null) return false;
        int? port = null;
        if (!string.IsNullOrEmpty(portText))
        {
            if (!portText.All(char.IsAsciiDigit) || !int.TryParse(portText, out var p) || p > 65535) return false;
            port = p;
        }
        target = new RequestTarget(scheme, host.Value, port);
        return true;
    }
}
