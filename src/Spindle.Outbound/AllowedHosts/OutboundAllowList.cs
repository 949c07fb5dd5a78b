using Spindle.App.Variables;

namespace Spindle.Outbound.AllowedHosts;

/// <summary>
/// A component's outbound allow-list (deny by default): parsed once at load, checked per request (spec §7.3–7.5).
/// Entries with <c>{{ variables }}</c> are validated at load when every variable has a load-time value and are
/// resolved again at request time; an entry that resolves to nothing (<c>""</c>, <c>http://</c>, <c>https://</c>) is
/// skipped; a resolution failure denies. <c>&lt;scheme&gt;://*.spin.internal</c> stands for one entry per component.
/// </summary>
public sealed class OutboundAllowList
{
    private readonly IReadOnlyList<AllowedHostEntry> _fixed;
    private readonly IReadOnlyList<Template> _templated;
    private readonly IReadOnlyCollection<string> _componentIds;

    private OutboundAllowList(IReadOnlyList<AllowedHostEntry> fixedEntries, IReadOnlyList<Template> templated, IReadOnlyCollection<string> componentIds)
    {
        _fixed = fixedEntries;
        _templated = templated;
        _componentIds = componentIds;
        _fixedExpanded = Expand(fixedEntries).ToList();
    }

    private readonly IReadOnlyList<AllowedHostEntry> _fixedExpanded;

    /// <summary>The list that allows nothing.</summary>
    public static OutboundAllowList Empty { get; } = new([], [], []);

    /// <summary>Entries that need no variables, parsed.</summary>
    public IReadOnlyList<AllowedHostEntry> Entries => _fixed;

    /// <summary>
    /// Whether an entry names <c>*.spin.internal</c> or <c>&lt;id&gt;.spin.internal</c> literally, which makes the
    /// application need local service chaining.
    /// </summary>
    public bool UsesServiceChaining => _fixed.Any(e =>
        (e.Host.Kind == HostPatternKind.AnySubdomain && e.Host.Suffix == ".spin.internal")
        || (e.Host.Kind == HostPatternKind.Literal && ServiceChaining.TargetOfHost(e.Host.Literal!.Value.Domain) is not null));

    /// <summary>Parses the entries.</summary>
    /// <param name="entries">The entries as written (legacy hosts already converted and appended).</param>
    /// <param name="componentIds">The application's component ids, for <c>*.spin.internal</c>.</param>
    /// <param name="loadTimeValue">A variable's value known at load (its manifest default), or <c>null</c>.</param>
    /// <exception cref="AllowedHostException">An entry is invalid; the first bad one is named.</exception>
    public static OutboundAllowList Parse(IEnumerable<string> entries, IReadOnlyCollection<string>? componentIds = null, Func<string, string?>? loadTimeValue = null)
    {
        var list = entries.ToList();
        if (list.Count == 1 && list[0].Trim() == "insecure:allow-all")
            throw new AllowedHostException(list[0],
                "'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic'");
        var fixedEntries = new List<AllowedHostEntry>();
        var templated = new List<Template>();
        foreach (var entry in list)
        {
            Template t;
            try { t = Template.Parse(entry); }
            catch (TemplateException e) { throw new AllowedHostException(entry, $"Invalid allowed host {AllowedHostEntry.Quote(entry)}: {e.Problem}"); }
            if (!t.HasReferences)
            {
                fixedEntries.Add(AllowedHostEntry.Parse(entry));
                continue;
            }
            templated.Add(t);
            // Validate now if every variable is known; otherwise only at request time (as Spin).
            if (loadTimeValue is not null && t.References.All(r => loadTimeValue(r) is not null))
            {
                var resolved = t.Expand(r => loadTimeValue(r)!);
                try
                {
                    if (!IsEmptyResolution(resolved)) AllowedHostEntry.Parse(resolved);
                }
                catch (AllowedHostException e)
                {
                    // Name the entry as written, not its expansion.
                    throw new AllowedHostException(entry, e.Message);
                }
            }
        }
        return new OutboundAllowList(fixedEntries, templated, componentIds ?? []);
    }

    private static bool IsEmptyResolution(string s) => s.Trim() is "" or "http://" or "https://";

    /// <summary>
    /// Whether an absolute request is allowed. <paramref name="url"/> without <c>://</c> gets
    /// <paramref name="defaultScheme"/> prepended (<c>https</c> for HTTP, <c>tcp</c>/<c>udp</c> for sockets).
    /// A path starting with <c>/</c>, or host <c>self.alt</c>, is a self request (<see cref="AllowsSelf"/>).
    /// </summary>
    /// <param name="url">The request URL.</param>
    /// <param name="defaultScheme">Scheme assumed when the URL has none.</param>
    /// <param name="resolve">Request-time variable values (throws for unknown/unset); <c>null</c> = no templated entry can match.</param>
    public bool IsAllowed(string url, string defaultScheme = "https", Func<string, string>? resolve = null)
    {
        if (url.StartsWith('/')) return AllowsSelf(resolve);
        if (!RequestTarget.TryParse(url, defaultScheme, out var target)) return false;
        return IsAllowed(target, resolve);
    }

    /// <summary>
    /// <see cref="IsAllowed(string, string, Func{string, string}?)"/> for a target the caller already parsed (the
    /// outbound dispatcher parses each request's URL once, for this check and for its routing).
    /// </summary>
    public bool IsAllowed(in RequestTarget target, Func<string, string>? resolve = null)
    {
        if (target.Host.Domain == "self.alt") return AllowsSelf(resolve);
        var entries = Resolve(resolve);
        if (entries is null) return false;
        foreach (var e in entries)
            if (e.Allows(target.Scheme, target.Host, target.Port)) return true;
        return false;
    }

    /// <summary>Whether relative (self) requests are allowed: an http/https/* entry with host self, self.alt or *.</summary>
    public bool AllowsSelf(Func<string, string>? resolve = null) => Resolve(resolve)?.Any(e => e.AllowsSelf) ?? false;

    /// <summary>
    /// The entries in force for one check, or <c>null</c> when a template cannot be resolved: as in Spin, the whole
    /// check then fails (denied); a failure never widens access.
    /// </summary>
    private IReadOnlyList<AllowedHostEntry>? Resolve(Func<string, string>? resolve)
    {
        if (_templated.Count == 0) return _fixedExpanded;
        if (resolve is null) return null;
        var all = new List<AllowedHostEntry>(_fixedExpanded);
        foreach (var t in _templated)
        {
            try
            {
                var s = t.Expand(resolve);
                if (!IsEmptyResolution(s)) all.AddRange(Expand([AllowedHostEntry.Parse(s)]));
            }
            catch (Exception ex) when (ex is VariableException or AllowedHostException or KeyNotFoundException)
            {
                return null;
            }
        }
        return all;
    }

    /// <summary><c>*.spin.internal</c> means the application's components, not any name under spin.internal.</summary>
    private IEnumerable<AllowedHostEntry> Expand(IEnumerable<AllowedHostEntry> entries)
    {
        foreach (var e in entries)
        {
            if (e.Host.Kind == HostPatternKind.AnySubdomain && e.Host.Suffix == ".spin.internal")
            {
                foreach (var id in _componentIds)
                    yield return AllowedHostEntry.Parse(
                        $"{e.Scheme ?? "*"}://{id}.spin.internal:{(e.Port.IsAny ? "*" : e.Port.Start + ".." + e.Port.EndExclusive)}");
                continue;
            }
            yield return e;
        }
    }
}
