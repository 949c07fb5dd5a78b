namespace Spindle.Outbound.AllowedHosts;

/// <summary>Local service chaining: <c>http(s)://&lt;component-id&gt;.spin.internal</c> is dispatched in-process (spec §8).</summary>
public static class ServiceChaining
{
    private const string Suffix = ".spin.internal";

    /// <summary>
    /// The component a chaining URL targets: the first DNS label when the rest is exactly <c>spin.internal</c>
    /// (scheme and port ignored). <c>null</c> for anything else (<c>a.b.spin.internal</c>, <c>spin.internal</c>...).
    /// </summary>
    public static string? TargetOf(string uri) =>
        RequestTarget.TryParse(uri, "http", out var t) ? TargetOfHost(t.Host.Domain) : null;

    /// <summary>As <see cref="TargetOf"/>, for a host name alone.</summary>
    public static string? TargetOfHost(string? host)
    {
        if (host is null || !host.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase)) return null;
        var label = host[..^Suffix.Length];
        return label.Length > 0 && !label.Contains('.') ? label : null;
    }
}
