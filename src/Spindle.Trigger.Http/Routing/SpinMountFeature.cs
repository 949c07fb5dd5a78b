namespace Spindle.Trigger.Http.Routing;

/// <summary>
/// The raw path prefix a Spin application is mounted under inside a larger ASP.NET Core application (for example
/// <c>/spin</c> for an application mapped on <c>MapGroup("/spin")</c>), set as a request feature by the endpoint. The
/// application then routes the path relative to it, and the prefix acts as an outer application base:
/// <c>spin-full-url</c> and the request's path keep it (they are what the client sent), <c>spin-base-path</c> and
/// <c>spin-matched-route</c> (and Wagi's <c>X_BASE_PATH</c>, <c>SCRIPT_NAME</c>) start with it, and
/// <c>spin-path-info</c> is unchanged.
/// </summary>
/// <param name="Prefix">The raw (still percent-encoded) prefix, starting with <c>/</c> and without a trailing <c>/</c>; empty: none.</param>
public sealed record SpinMountFeature(string Prefix)
{
    /// <summary>
    /// The path relative to <see cref="Prefix"/> (<c>/</c> for the prefix itself), or null when
    /// <paramref name="rawPath"/> is not under it.
    /// </summary>
    public string? Relative(string rawPath)
    {
        ArgumentNullException.ThrowIfNull(rawPath);
        if (Prefix.Length == 0) return rawPath;
        if (!rawPath.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        if (rawPath.Length == Prefix.Length) return "/";
        return rawPath[Prefix.Length] == '/' ? rawPath[Prefix.Length..] : null;
    }

    /// <summary>The route facts as seen from outside the mount: base path and matched route start with <see cref="Prefix"/>.</summary>
    public RouteMatch Outside(RouteMatch match)
    {
        ArgumentNullException.ThrowIfNull(match);
        if (Prefix.Length == 0) return match;
        return match with
        {
            BasePath = match.BasePath is "" or "/" ? Prefix : Prefix + match.BasePath,
            MatchedRoute = Prefix + match.MatchedRoute,
        };
    }
}
