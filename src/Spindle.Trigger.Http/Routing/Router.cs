namespace Spindle.Trigger.Http.Routing;

/// <summary>A route to register: the target (component id, or trigger id for a static response) and its route text.</summary>
/// <param name="Target">What the route leads to.</param>
/// <param name="Route">The route as written.</param>
public sealed record RouteDefinition(string Target, string Route);

/// <summary>A route in the router with its target.</summary>
/// <param name="Target">What the route leads to.</param>
/// <param name="Pattern">The parsed route.</param>
public sealed record RouteEntry(string Target, RoutePattern Pattern);

/// <summary>Two declarations of the same raw route: the later one is used (Spin logs this as an error, not fatal).</summary>
/// <param name="Route">The raw route.</param>
/// <param name="Replaced">The target that will never be reached.</param>
/// <param name="Effective">The target that handles the route.</param>
public sealed record DuplicateRoute(string Route, string Replaced, string Effective);

/// <summary>
/// Spin's HTTP router (spec §2): routes sorted once by routefinder precedence, first match wins. Immutable.
/// Private routes are not registered here (they are reached by service chaining only).
/// </summary>
public sealed class Router
{
    /// <summary>The prefix the runtime answers itself; user routes under it are unreachable.</summary>
    public const string ReservedPrefix = "/.well-known/spin/";

    private Router(string basePath, IReadOnlyList<RouteEntry> routes, IReadOnlyList<DuplicateRoute> duplicates, IReadOnlyList<RouteEntry> reserved)
    {
        BasePath = basePath;
        Routes = routes;
        Duplicates = duplicates;
        UnreachableReserved = reserved;
    }

    /// <summary>The application base (<c>spin-base-path</c>).</summary>
    public string BasePath { get; }

    /// <summary>Routes in precedence order (the order they are tried and printed).</summary>
    public IReadOnlyList<RouteEntry> Routes { get; }

    /// <summary>Raw routes declared more than once.</summary>
    public IReadOnlyList<DuplicateRoute> Duplicates { get; }

    /// <summary>Routes under <c>/.well-known/spin/</c>, which the runtime intercepts.</summary>
    public IReadOnlyList<RouteEntry> UnreachableReserved { get; }

    /// <summary>
    /// Builds the router. 1. parse each route under <paramref name="basePath"/>; 2. collapse duplicates by raw text
    /// (the last declaration wins and takes the first one's position); 3. stable-sort by precedence.
    /// </summary>
    /// <exception cref="RouteException">A route cannot be parsed.</exception>
    public static Router Build(string basePath, IEnumerable<RouteDefinition> definitions)
    {
        var ordered = new List<RouteEntry>();
        var byRaw = new Dictionary<string, int>(StringComparer.Ordinal);
        var duplicates = new List<DuplicateRoute>();
        foreach (var d in definitions)
        {
            var entry = new RouteEntry(d.Target, RoutePattern.Parse(basePath, d.Route, d.Target));
            if (byRaw.TryGetValue(d.Route, out var at))
            {
                duplicates.Add(new DuplicateRoute(d.Route, ordered[at].Target, d.Target));
                ordered[at] = entry;
            }
            else
            {
                byRaw[d.Route] = ordered.Count;
                ordered.Add(entry);
            }
        }
        // A later duplicate may itself be replaced; report the final winner for each.
        duplicates = duplicates.Select(x => x with { Effective = ordered[byRaw[x.Route]].Target }).ToList();
        var sorted = ordered.Order(Comparer<RouteEntry>.Create((a, b) => RoutePattern.ComparePrecedence(a.Pattern, b.Pattern))).ToList();
        var reserved = sorted.Where(r => r.Pattern.Based.StartsWith(ReservedPrefix, StringComparison.Ordinal)).ToList();
        return new Router(string.IsNullOrEmpty(basePath) ? "/" : basePath, sorted, duplicates, reserved);
    }

    /// <summary>Finds the route for a raw request path (no query), or <c>null</c> (→ 404).</summary>
    public RouteMatch? Match(string path)
    {
        var parameters = new List<KeyValuePair<string, string>>();
        foreach (var r in Routes)
        {
            parameters.Clear();
            if (!r.Pattern.TryMatch(path, parameters, out var wildcard)) continue;
            return new RouteMatch(
                r.Target,
                r.Pattern.Raw,
                r.Pattern.Based,
                r.Pattern.ComponentRoute,
                PathInfo(wildcard, path),
                BasePath,
                LastWins(parameters));
        }
        return null;
    }

    /// <summary>
    /// The synthetic match a service-chained request (<c>http://&lt;id&gt;.spin.internal/...</c>) gets, bypassing the
    /// router (spec §8): route <c>/...</c>, the full request path as <c>spin-path-info</c>, no parameters.
    /// </summary>
    public RouteMatch ChainedMatch(string componentId, string path) =>
        new(componentId, "/...", "/...", "", path, BasePath, []);

    /// <summary>Spin keeps trailing slashes in <c>spin-path-info</c>, which routefinder's capture drops.</summary>
    private static string PathInfo(string? wildcard, string path) => wildcard switch
    {
        null => "",
        "" => path.EndsWith('/') ? "/" : "",
        _ => path.EndsWith('/') ? $"/{wildcard}/" : $"/{wildcard}",
    };

    private static IReadOnlyList<KeyValuePair<string, string>> LastWins(List<KeyValuePair<string, string>> captures)
    {
        if (captures.Count < 2) return captures.ToArray();
        var result = new List<KeyValuePair<string, string>>();
        foreach (var c in captures)
        {
            var i = result.FindIndex(x => x.Key == c.Key);
            if (i >= 0) result[i] = c;
            else result.Add(c);
        }
        return result;
    }
}
