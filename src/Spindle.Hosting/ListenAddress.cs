using System.Net;
using System.Net.Sockets;

namespace Spindle.Hosting;

/// <summary>A <c>HOST:PORT</c> listen address (<c>127.0.0.1:3000</c>, <c>localhost:0</c>, <c>[::1]:8080</c>).</summary>
public sealed record ListenAddress(string Host, int Port)
{
    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="SpindleStartupException">Not <c>HOST:PORT</c>.</exception>
    public static ListenAddress Parse(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1 || !int.TryParse(text[(colon + 1)..], out var port) || port is < 0 or > 65535)
            throw new SpindleStartupException($"invalid listen address '{text}': expected HOST:PORT, e.g. 127.0.0.1:3000");
        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        return new ListenAddress(host, port);
    }

    /// <summary>Resolves the host; IPv4 loopback is preferred for names (as Spin).</summary>
    public IPAddress Resolve()
    {
        if (IPAddress.TryParse(Host, out var ip)) return ip;
        if (Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        try
        {
            var all = Dns.GetHostAddresses(Host);
            return all.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? all.First();
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            throw new SpindleStartupException($"cannot resolve listen host '{Host}': {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
