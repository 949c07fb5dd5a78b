namespace Spindle.Trigger.Http.Routing;

/// <summary>The parts of a route spec, as routefinder splits them (at <c>/</c> and <c>.</c>).</summary>
internal enum SegmentKind
{
    Slash = 0,
    Wildcard = 1,
    Param = 2,
    // Literal text and '.' rank the same (routefinder compares kinds, never texts).
    Literal = 3,
    Dot = 4,
}

internal readonly record struct Segment(SegmentKind Kind, string Text = "")
{
    public int Rank => Kind == SegmentKind.Dot ? (int)SegmentKind.Literal : (int)Kind;
}

/// <summary>
/// One route, normalised and tokenised once (spec §2.1–2.2): the raw text (for headers), the based route
/// (<c>base</c> + route, one trailing <c>/</c> removed, <c>/</c> becoming empty) and its segments.
/// </summary>
public sealed class RoutePattern
{
    private RoutePattern(string raw, string based, IReadOnlyList<Segment> segments, bool isWildcard)
    {
        Raw = raw;
        Based = based;
        Segments = segments;
        IsTrailingWildcard = isWildcard;
        DotCount = segments.Count(s => s.Kind == SegmentKind.Dot);
    }

    /// <summary>The route exactly as written in the manifest.</summary>
    public string Raw { get; }

    /// <summary>Base + route, normalised, including a trailing <c>/...</c> (<c>spin-matched-route</c>).</summary>
    public string Based { get; }

    /// <summary>Whether the route ends with a trailing wildcard (<c>/...</c> or <c>/*</c>).</summary>
    public bool IsTrailingWildcard { get; }

    /// <summary>The raw route without a trailing <c>/...</c> (<c>spin-component-route</c>).</summary>
    public string ComponentRoute => Raw.EndsWith("/...", StringComparison.Ordinal) ? Raw[..^4] : Raw;

    /// <summary>The based route without a trailing <c>/...</c> (Wagi <c>SCRIPT_NAME</c>).</summary>
    public string BasedWithoutWildcard => Based.EndsWith("/...", StringComparison.Ordinal) ? Based[..^4] : Based;

    /// <summary>Startup listing form: the literal prefix (<c>/</c> for the root) and whether it is a wildcard.</summary>
    public string DisplayPrefix
    {
        get
        {
            var p = IsTrailingWildcard
                ? (Based.EndsWith("/...", StringComparison.Ordinal) ? Based[..^4] : Based.EndsWith("/*", StringComparison.Ordinal) ? Based[..^2] : Based)
                : Based;
            return p.Length == 0 ? "/" : p;
        }
    }

    internal IReadOnlyList<Segment> Segments { get; }

    internal int DotCount { get; }

    /// <summary>Normalises and tokenises <paramref name="raw"/> under <paramref name="basePath"/>.</summary>
    /// <exception cref="RouteException">The route cannot be parsed, or has a <c>*</c> before its end.</exception>
    public static RoutePattern Parse(string basePath, string raw, string owner)
    {
        var based = Sanitize(Absolutize(basePath)) + Sanitize(Absolutize(raw));
        if (based == "/") based = "";
        var spec = based.EndsWith("/...", StringComparison.Ordinal) ? based[..^4] + "/*" : based;
        var segments = Tokenise(spec.Trim('/'), raw, owner);
        var wildcardAt = segments.FindIndex(s => s.Kind == SegmentKind.Wildcard);
        if (wildcardAt >= 0 && wildcardAt != segments.Count - 1)
            throw new RouteException(raw, owner,
                $"Error parsing route {raw} associated with component {owner}: '*' is only allowed as the last segment (a trailing wildcard, '/...')");
        return new RoutePattern(raw, based, segments, wildcardAt >= 0);
    }

    private static string Absolutize(string s) => s.StartsWith('/') ? s : "/" + s;

    private static string Sanitize(string s) => s.EndsWith('/') ? s[..^1] : s;

    private static List<Segment> Tokenise(string spec, string raw, string owner)
    {
        var segments = new List<Segment>();
        if (spec.Length == 0) return segments;
        var pieces = spec.Split('/');
        for (var i = 0; i < pieces.Length; i++)
        {
            var piece = pieces[i];
            if (i > 0)
            {
                // routefinder glues a piece that starts with '.' onto the previous one (so "/a/.../b" is "a.../b").
                if (!piece.StartsWith('.')) segments.Add(new Segment(SegmentKind.Slash));
            }
            if (piece == "*")
            {
                segments.Add(new Segment(SegmentKind.Wildcard));
                continue;
            }
            if (piece.StartsWith('*'))
                throw new RouteException(raw, owner,
                    $"Error parsing route {raw} associated with component {owner}: since there can only be one wildcard, it doesn't need a name. replace `{piece}` with `*`");
            var parts = piece.Split('.');
            for (var j = 0; j < parts.Length; j++)
            {
                if (j > 0) segments.Add(new Segment(SegmentKind.Dot));
                var part = parts[j];
                if (part.StartsWith(':'))
                {
                    if (part.Length == 1)
                        throw new RouteException(raw, owner, $"Error parsing route {raw} associated with component {owner}: params must be named");
                    segments.Add(new Segment(SegmentKind.Param, part[1..]));
                }
                else if (part.Length > 0)
                    segments.Add(new Segment(SegmentKind.Literal, part));
            }
        }
        return segments;
    }

    /// <summary>
    /// Matches a request path (raw, percent-encoded, no query). Leading and trailing <c>/</c> are ignored;
    /// literals compare case-sensitively; a param captures a non-empty run up to the next <c>/</c> (or <c>.</c>
    /// when the route has a dot next); the trailing wildcard captures the rest, possibly nothing.
    /// </summary>
    internal bool TryMatch(string requestPath, List<KeyValuePair<string, string>> parameters, out string? wildcard)
    {
        wildcard = null;
        var path = requestPath.AsSpan().Trim('/');
        var pos = 0;
        for (var k = 0; k < Segments.Count; k++)
        {
            var s = Segments[k];
            switch (s.Kind)
            {
                case SegmentKind.Slash:
                    // The slash before a trailing wildcard is optional: "/users/..." matches "/users".
                    if (pos == path.Length && k + 1 < Segments.Count && Segments[k + 1].Kind == SegmentKind.Wildcard) continue;
                    if (pos >= path.Length || path[pos] != '/') return false;
                    pos++;
                    break;
                case SegmentKind.Dot:
                    if (pos >= path.Length || path[pos] != '.') return false;
                    pos++;
                    break;
                case SegmentKind.Literal:
                    if (!path[pos..].StartsWith(s.Text, StringComparison.Ordinal)) return false;
                    pos += s.Text.Length;
                    break;
                case SegmentKind.Param:
                    var stopAtDot = k + 1 < Segments.Count && Segments[k + 1].Kind == SegmentKind.Dot;
                    var rest = path[pos..];
                    var end = stopAtDot ? rest.IndexOfAny('/', '.') : rest.IndexOf('/');
                    if (end < 0) end = rest.Length;
                    if (end == 0) return false;
                    parameters.Add(new(s.Text, rest[..end].ToString()));
                    pos += end;
                    break;
                case SegmentKind.Wildcard:
                    wildcard = path[pos..].ToString();
                    pos = path.Length;
                    break;
            }
        }
        return pos == path.Length;
    }

    /// <summary>
    /// routefinder's order: at the first position where segment kinds differ the higher kind wins
    /// (literal/dot &gt; param &gt; wildcard &gt; slash); then more dots; then fewer segments. Ties keep declaration order.
    /// </summary>
    internal static int ComparePrecedence(RoutePattern a, RoutePattern b)
    {
        var n = Math.Min(a.Segments.Count, b.Segments.Count);
        for (var i = 0; i < n; i++)
        {
            var c = b.Segments[i].Rank.CompareTo(a.Segments[i].Rank);
            if (c != 0) return c;
        }
        var dots = b.DotCount.CompareTo(a.DotCount);
        if (dots != 0) return dots;
        return a.Segments.Count.CompareTo(b.Segments.Count);
    }

    /// <inheritdoc />
    public override string ToString() => Raw;
}

/// <summary>A route that cannot be used. The message names the route and its component.</summary>
public sealed class RouteException(string route, string owner, string message) : Exception(message)
{
    /// <summary>The route as written.</summary>
    public string Route { get; } = route;

    /// <summary>The component (or trigger) the route belongs to.</summary>
    public string Owner { get; } = owner;
}
