using Spindle.Outbound.AllowedHosts;

namespace Spindle.Trigger.Http.Routing;

/// <summary>The <c>Host</c> of a service-chained request: <c>&lt;label&gt;.spin.internal[:port]</c>.</summary>
internal static class SpinInternalHost
{
    /// <summary>Whether <paramref name="host"/> (a <c>Host</c> header value) names a <c>*.spin.internal</c> target, which must not reach the component.</summary>
    public static bool Matches(string host)
    {
        var h = host;
        var colon = h.LastIndexOf(':');
        if (colon > 0 && !h.EndsWith(']')) h = h[..colon];
        return ServiceChaining.TargetOfHost(h.ToLowerInvariant()) is not null;
    }
}
