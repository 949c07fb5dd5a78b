namespace Spindle.Trigger.Http.Routing;

/// <summary>
/// What the router found for one request: the component and the route facts that become the <c>spin-*</c>
/// headers (spec §3.1) and the Wagi <c>X_*</c>/<c>PATH_INFO</c> variables (spec §4.1).
/// </summary>
/// <param name="ComponentId">The component (or static-response trigger) the request goes to.</param>
/// <param name="RawRoute">The route exactly as written in the manifest (<c>spin-raw-component-route</c>).</param>
/// <param name="MatchedRoute">The based route as written, including <c>/...</c>; empty for route <c>/</c> (<c>spin-matched-route</c>).</param>
/// <param name="ComponentRoute">The raw route without a trailing <c>/...</c> (<c>spin-component-route</c>).</param>
/// <param name="PathInfo">The trailing-wildcard capture, raw, or empty (<c>spin-path-info</c>).</param>
/// <param name="BasePath">The application base (<c>spin-base-path</c>).</param>
/// <param name="Parameters">The <c>:name</c> captures, raw, in route order (a repeated name keeps the last).</param>
public sealed record RouteMatch(
    string ComponentId,
    string RawRoute,
    string MatchedRoute,
    string ComponentRoute,
    string PathInfo,
    string BasePath,
    IReadOnlyList<KeyValuePair<string, string>> Parameters);
