using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Spindle.Outbound.AllowedHosts;

/// <summary>A parsed URL host: a normalised domain (lower case, punycode) or an IP address.</summary>
public readonly record struct HostName(string? Domain, IPAddress? Address)
{
    /// <summary>Whether this is a domain name (not an IP literal).</summary>
    public bool IsDomain => Domain is not null;

    /// <inheritdoc />
    public override string ToString() =>
        Domain ?? (Address!.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Address}]" : Address!.ToString());

    /// <summary>
    /// Parses a host the way URL parsers do (WHATWG host parsing, as Rust's <c>url</c> crate): <c>[v6]</c>,
    /// IPv4 (including hex/octal parts), or a domain (percent-decoded, IDN to ASCII, lower-cased).
    /// Returns <c>null</c> and an error text (<c>"invalid domain character"</c>...) when it is not a valid host.
    /// </summary>
    public static HostName? TryParse(string input, out string? error)
    {
        error = null;
        if (input.StartsWith('['))
        {
            if (!input.EndsWith(']') || !TryParseIPv6(input[1..^1], out var v6))
            {
                error = "invalid IPv6 address";
                return null;
            }
            return new HostName(null, v6);
        }

        var decoded = PercentDecode(input);
        string ascii;
        if (decoded.All(char.IsAscii))
            ascii = decoded.ToLowerInvariant();
        else
        {
            try { ascii = new IdnMapping().GetAscii(decoded).ToLowerInvariant(); }
            catch (ArgumentException)
            {
                error = "invalid international domain name";
                return null;
            }
        }
        if (ascii.Length == 0)
        {
            error = "empty host";
            return null;
        }
        foreach (var c in ascii)
            if (IsForbiddenDomainChar(c))
            {
                error = "invalid domain character";
                return null;
            }
        if (EndsInNumber(ascii))
        {
            if (!TryParseIPv4(ascii, out var v4))
            {
                error = "invalid IPv4 address";
                return null;
            }
            return new HostName(null, v4);
        }
        return new HostName(ascii, null);
    }

    private static bool IsForbiddenDomainChar(char c) =>
        c is '\0' or '\t' or '\n' or '\r' or ' ' or '#' or '%' or '/' or ':' or '<' or '>' or '?' or '@' or '['
            or '\\' or ']' or '^' or '|' or '\u007f' || c < ' ';

    private static bool TryParseIPv6(string s, out IPAddress address)
    {
        address = IPAddress.None;
        if (s.Length == 0 || s.Contains('%') || !s.Contains(':')) return false;
        if (!IPAddress.TryParse(s, out var a) || a.AddressFamily != AddressFamily.InterNetworkV6) return false;
        address = a;
        return true;
    }

    private static string PercentDecode(string s)
    {
        if (!s.Contains('%')) return s;
        var bytes = new List<byte>();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '%' && i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]))
            {
                bytes.Add((byte)Convert.ToInt32(s.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
                bytes.AddRange(Encoding.UTF8.GetBytes(s[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>WHATWG "ends in a number": the last label (ignoring one trailing dot) is numeric or 0x-hex.</summary>
    private static bool EndsInNumber(string s)
    {
        var parts = s.Split('.');
        var last = parts[^1];
        if (last.Length == 0)
        {
            if (parts.Length == 1) return false;
            last = parts[^2];
        }
        if (last.Length > 0 && last.All(char.IsAsciiDigit)) return true;
        return TryParseIPv4Number(last, out _);
    }

    private static bool TryParseIPv4(string s, out IPAddress address)
    {
        address = IPAddress.None;
        var parts = s.Split('.').ToList();
        if (parts[^1].Length == 0 && parts.Count > 1) parts.RemoveAt(parts.Count - 1);
        if (parts.Count > 4) return false;
        var numbers = new List<ulong>();
        foreach (var p in parts)
        {
            if (!TryParseIPv4Number(p, out var n)) return false;
            numbers.Add(n);
        }
        for (var i = 0; i < numbers.Count - 1; i++)
            if (numbers[i] > 255) return false;
        if (numbers[^1] >= 1UL << (8 * (5 - numbers.Count))) return false;
        ulong ipv4 = numbers[^1];
        for (var i = 0; i < numbers.Count - 1; i++)
            ipv4 += numbers[i] << (8 * (3 - i));
        address = new IPAddress([(byte)(ipv4 >> 24), (byte)(ipv4 >> 16), (byte)(ipv4 >> 8), (byte)ipv4]);
        return true;
    }

    private static bool TryParseIPv4Number(string s, out ulong value)
    {
        value = 0;
        if (s.Length == 0) return false;
        var radix = 10;
        if (s.Length >= 2 && (s.StartsWith("0x", StringComparison.Ordinal) || s.StartsWith("0X", StringComparison.Ordinal)))
        {
            s = s[2..];
            radix = 16;
        }
        else if (s.Length >= 2 && s[0] == '0')
        {
            s = s[1..];
            radix = 8;
        }
        if (s.Length == 0) return true;
        foreach (var c in s)
        {
            var d = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'f' => c - 'a' + 10,
                >= 'A' and <= 'F' => c - 'A' + 10,
                _ => 99,
            };
            if (d >= radix) return false;
            value = value * (ulong)radix + (ulong)d;
            if (value > uint.MaxValue) value = uint.MaxValue + 1UL; // saturate: still "too large" later
        }
        return true;
    }
}
