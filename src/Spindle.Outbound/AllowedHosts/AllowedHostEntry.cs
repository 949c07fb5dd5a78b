using System.Net;
using System.Text;

namespace Spindle.Outbound.AllowedHosts;

/// <summary>
/// One parsed <c>allowed_outbound_hosts</c> entry: <c>&lt;scheme&gt;://&lt;host&gt;[:&lt;port&gt;][/]</c> with Spin's
/// grammar (spec §7.1–7.2): scheme <c>*</c> or alphabetic; host <c>*</c>, <c>*.domain</c>, <c>self</c>/<c>self.alt</c>,
/// a domain, an IP literal or a CIDR; port omitted (scheme default), <c>*</c>, <c>N</c> or <c>A..B</c> (end exclusive).
/// </summary>
public sealed class AllowedHostEntry
{
    private AllowedHostEntry(string original, string? scheme, HostPattern host, PortPattern port)
    {
        Original = original;
        Scheme = scheme;
        Host = host;
        Port = port;
    }

    /// <summary>The entry as written.</summary>
    public string Original { get; }

    /// <summary>The scheme, or <c>null</c> for <c>*</c>. Compared case-sensitively with the lower-cased request scheme.</summary>
    public string? Scheme { get; }

    /// <summary>The host pattern.</summary>
    public HostPattern Host { get; }

    /// <summary>The port pattern.</summary>
    public PortPattern Port { get; }

    /// <summary>The ports of schemes that have a well-known one; any other scheme needs an explicit port.</summary>
    public static int? WellKnownPort(string scheme) => scheme switch
    {
        "http" => 80,
        "https" => 443,
        "postgres" => 5432,
        "mysql" => 3306,
        "redis" => 6379,
        "mqtt" => 1883,
        _ => null,
    };

    /// <summary>Parses one entry (already template-expanded).</summary>
    /// <exception cref="AllowedHostException">The entry breaks the grammar; the message names it.</exception>
    public static AllowedHostEntry Parse(string entry)
    {
        var url = entry.Trim();
        var sep = url.IndexOf("://", StringComparison.Ordinal);
        if (sep < 0)
        {
            if (url is "*" or ":" or "" or "?")
                throw new AllowedHostException(entry,
                    $"{Quote(url)} is not an allowed outbound host format.\nHosts must be in the form <scheme>://<host>[:<port>], with '*' wildcards allowed for each.\nIf you intended to allow all outbound networking, you can use '*://*:*' - this will obviate all network sandboxing.");
            throw new AllowedHostException(entry, $"{Quote(url)} does not contain a scheme (e.g., 'http://' or '*://')");
        }
        var scheme = url[..sep];
        var rest = url[(sep + 3)..];

        // Split host and port at the last ':' unless the whole remainder is already a host ([::1], 2001:db8::/32).
        string host, port;
        var colon = rest.LastIndexOf(':');
        if (colon < 0 || HostPattern.TryParse(rest, out _, out _))
        {
            host = rest;
            port = "";
        }
        else
        {
            host = rest[..colon];
            port = rest[(colon + 1)..];
            var slash = port.IndexOf('/');
            if (slash >= 0)
            {
                if (slash + 1 < port.Length)
                    throw new AllowedHostException(entry, $"{Quote(url)} has a path but is not allowed to");
                port = port[..slash];
            }
        }

        // Spin parses port, then scheme, then host: that order decides which message a doubly-bad entry gets.
        var portPattern = PortPattern.Parse(port, scheme, entry);
        string? schemeValue = scheme == "*" ? null : scheme;
        if (schemeValue is not null)
        {
            if (schemeValue.StartsWith('{'))
                throw new AllowedHostException(entry, $"Invalid allowed host scheme {Quote(scheme)}: scheme lists are not yet supported");
            if (!schemeValue.All(char.IsAsciiLetter))
                throw new AllowedHostException(entry, $"Invalid allowed host scheme {Quote(scheme)}: only alphabetic characters are allowed");
        }
        if (!HostPattern.TryParse(host, out var hostPattern, out var hostError))
            throw new AllowedHostException(entry, $"Invalid allowed host {Quote(host)}: {hostError}");
        return new AllowedHostEntry(entry, schemeValue, hostPattern!, portPattern);
    }

    /// <summary>Whether a request to <paramref name="scheme"/>://<paramref name="host"/>:<paramref name="port"/> is allowed.</summary>
    public bool Allows(string scheme, HostName host, int? port) =>
        (Scheme is null || Scheme == scheme) && Host.Matches(host) && Port.Matches(port ?? WellKnownPort(scheme));

    /// <summary>Whether this entry allows relative (self) requests: scheme http/https/*, host self/self.alt/*.</summary>
    public bool AllowsSelf => Scheme is null or "http" or "https" && Host.Kind is HostPatternKind.Any or HostPatternKind.Self;

    /// <inheritdoc />
    public override string ToString() => Original;

    /// <summary>Rust <c>{:?}</c> string quoting, so messages read like Spin's.</summary>
    internal static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
            sb.Append(c switch { '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => c.ToString() });
        return sb.Append('"').ToString();
    }
}

/// <summary>A config entry Spin would refuse. The message names the entry.</summary>
public sealed class AllowedHostException(string entry, string message) : Exception(message)
{
    /// <summary>The offending entry as written.</summary>
    public string Entry { get; } = entry;
}

/// <summary>The kinds of host pattern.</summary>
public enum HostPatternKind
{
    /// <summary><c>*</c></summary>
    Any,
    /// <summary><c>*.domain</c>: any sub-domain at any depth, not the apex.</summary>
    AnySubdomain,
    /// <summary><c>self</c> or <c>self.alt</c>: relative requests only.</summary>
    Self,
    /// <summary>A domain or IP literal.</summary>
    Literal,
    /// <summary>An IP network; matches IP literals only.</summary>
    Cidr,
}

/// <summary>The host part of an entry.</summary>
public sealed class HostPattern
{
    private HostPattern(HostPatternKind kind, string? suffix = null, HostName? literal = null, IPAddress? network = null, int prefix = 0)
    {
        Kind = kind;
        Suffix = suffix;
        Literal = literal;
        Network = network;
        PrefixLength = prefix;
    }

    /// <summary>The kind.</summary>
    public HostPatternKind Kind { get; }

    /// <summary>For <see cref="HostPatternKind.AnySubdomain"/>: the suffix with its leading dot (<c>.example.com</c>).</summary>
    public string? Suffix { get; }

    /// <summary>For <see cref="HostPatternKind.Literal"/>: the host.</summary>
    public HostName? Literal { get; }

    /// <summary>For <see cref="HostPatternKind.Cidr"/>: the network address (host bits cleared).</summary>
    public IPAddress? Network { get; }

    /// <summary>For <see cref="HostPatternKind.Cidr"/>: the prefix length.</summary>
    public int PrefixLength { get; }

    internal static HostPattern ForLiteral(HostName host) => new(HostPatternKind.Literal, literal: host);

    /// <summary>Parses the host part; on failure <paramref name="error"/> is Spin's reason text.</summary>
    public static bool TryParse(string host, out HostPattern? pattern, out string? error)
    {
        pattern = null;
        error = null;
        var h = host.EndsWith('/') ? host[..^1] : host;
        if (h.StartsWith('{'))
            return Fail("host lists are not yet supported", out error);
        if (h == "*")
        {
            pattern = new HostPattern(HostPatternKind.Any);
            return true;
        }
        if (h is "self" or "self.alt")
        {
            pattern = new HostPattern(HostPatternKind.Self);
            return true;
        }
        if (h.StartsWith("*.", StringComparison.Ordinal))
        {
            var suffix = h[2..];
            if (suffix.Contains('*')) return Fail("wildcards are allowed only as prefixes", out error);
            if (suffix.Contains('/')) return Fail("must not include a path", out error);
            var parsed = HostName.TryParse(suffix, out var e);
            if (parsed is null) return Fail($"invalid wildcard host {AllowedHostEntry.Quote(h)}: {e}", out error);
            if (!parsed.Value.IsDomain) return Fail("wildcard suffix must be a domain", out error);
            pattern = new HostPattern(HostPatternKind.AnySubdomain, suffix: "." + parsed.Value.Domain);
            return true;
        }
        if (h.Contains('*')) return Fail("wildcards are allowed only as subdomains", out error);
        if (h.Contains('/'))
        {
            if (TryParseCidr(h, out var net, out var prefix))
            {
                pattern = new HostPattern(HostPatternKind.Cidr, network: net, prefix: prefix);
                return true;
            }
            return Fail("must not include a path", out error);
        }
        var name = HostName.TryParse(h, out var err);
        if (name is null) return Fail(err!, out error);
        pattern = ForLiteral(name.Value);
        return true;
    }

    private static bool Fail(string message, out string? error)
    {
        error = message;
        return false;
    }

    private static bool TryParseCidr(string s, out IPAddress network, out int prefix)
    {
        network = IPAddress.None;
        prefix = 0;
        var slash = s.IndexOf('/');
        var ipText = s[..slash];
        var prefixText = s[(slash + 1)..];
        if (ipText.StartsWith('[') || !IPAddress.TryParse(ipText, out var ip) || ipText.Contains('%')) return false;
        if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && ipText.Count(c => c == '.') != 3) return false;
        if (prefixText.Length == 0 || !prefixText.All(char.IsAsciiDigit) || !int.TryParse(prefixText, out prefix)) return false;
        var bytes = ip.GetAddressBytes();
        if (prefix > bytes.Length * 8) return false;
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        network = new IPAddress(bytes);
        return true;
    }

    /// <summary>Whether an absolute request's host matches (self patterns never do).</summary>
    public bool Matches(HostName host) => Kind switch
    {
        HostPatternKind.Any => true,
        HostPatternKind.AnySubdomain => host.IsDomain && host.Domain!.Length > Suffix!.Length && host.Domain.EndsWith(Suffix, StringComparison.Ordinal),
        HostPatternKind.Literal => host.Equals(Literal!.Value) || (host.Address is not null && host.Address.Equals(Literal!.Value.Address)),
        HostPatternKind.Cidr => host.Address is not null && InNetwork(host.Address),
        _ => false,
    };

    private bool InNetwork(IPAddress address)
    {
        if (address.AddressFamily != Network!.AddressFamily) return false;
        var a = address.GetAddressBytes();
        var n = Network.GetAddressBytes();
        for (var i = 0; i < a.Length; i++)
        {
            var keep = Math.Clamp(PrefixLength - i * 8, 0, 8);
            var mask = (byte)(0xFF << (8 - keep));
            if ((a[i] & mask) != n[i]) return false;
        }
        return true;
    }
}

/// <summary>The port part of an entry.</summary>
public sealed class PortPattern
{
    private PortPattern(int? start, int? endExclusive)
    {
        Start = start;
        EndExclusive = endExclusive;
    }

    /// <summary>First allowed port; <c>null</c> for any port.</summary>
    public int? Start { get; }

    /// <summary>One past the last allowed port; <c>null</c> for any port.</summary>
    public int? EndExclusive { get; }

    /// <summary>Whether any port is allowed.</summary>
    public bool IsAny => Start is null;

    /// <summary>Parses the port text for <paramref name="scheme"/> (empty = the scheme's well-known port).</summary>
    public static PortPattern Parse(string port, string scheme, string entry)
    {
        AllowedHostException Bad(string why) => new(entry, $"Invalid allowed host port {AllowedHostEntry.Quote(port)}: {why}");
        if (port.Length == 0)
        {
            var known = AllowedHostEntry.WellKnownPort(scheme)
                ?? throw Bad($"no port was provided and the scheme {AllowedHostEntry.Quote(scheme)} does not have a known default port number");
            return new PortPattern(known, known + 1);
        }
        if (port == "*") return new PortPattern(null, null);
        if (port.StartsWith('{')) throw Bad("port lists are not yet supported");
        var dots = port.IndexOf("..", StringComparison.Ordinal);
        if (dots >= 0)
        {
            var a = ParseU16(port[..dots]);
            var b = ParseU16(port[(dots + 2)..]);
            if ((a.Error ?? b.Error) is { } e) throw Bad($"port range {AllowedHostEntry.Quote(port)} contains non-number: {e}");
            return new PortPattern(a.Value, b.Value);
        }
        var p = ParseU16(port);
        if (p.Error is { } err) throw Bad($"port {AllowedHostEntry.Quote(port)} is not a number: {err}");
        return new PortPattern(p.Value, p.Value + 1);
    }

    /// <summary>Rust's <c>u16::from_str</c>, with its error texts.</summary>
    private static (int Value, string? Error) ParseU16(string s)
    {
        var digits = s.StartsWith('+') ? s[1..] : s;
        if (s.Length == 0) return (0, "cannot parse integer from empty string");
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit)) return (0, "invalid digit found in string");
        var trimmed = digits.TrimStart('0');
        if (trimmed.Length > 5 || (trimmed.Length > 0 && int.Parse(trimmed) > ushort.MaxValue))
            return (0, "number too large to fit in target type");
        return (trimmed.Length == 0 ? 0 : int.Parse(trimmed), null);
    }

    /// <summary>Whether <paramref name="port"/> (the request's, or its scheme's default) is allowed.</summary>
    public bool Matches(int? port) => IsAny || (port is { } p && p >= Start && p < EndExclusive);
}
