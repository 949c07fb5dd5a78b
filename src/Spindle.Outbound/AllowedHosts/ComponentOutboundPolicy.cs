using Spindle.App.Manifest;
using Spindle.App.Model;

namespace Spindle.Outbound.AllowedHosts;

/// <summary>Builds and validates each component's effective allow-list from the application model.</summary>
public static class ComponentOutboundPolicy
{
    private static readonly string[] V1DatabaseHosts = ["redis://*:*", "mysql://*:*", "postgres://*:*"];

    /// <summary>
    /// The entries in force for a component: <c>allowed_outbound_hosts</c>, then (v1 manifests
    /// whose component has no <c>allowed_outbound_hosts</c> key) unrestricted redis/mysql/postgres, then the
    /// converted legacy <c>allowed_http_hosts</c>.
    /// </summary>
    public static IReadOnlyList<string> EffectiveEntries(int manifestVersion, IReadOnlyList<string>? allowedOutboundHosts, IReadOnlyList<string> allowedHttpHosts)
    {
        var list = new List<string>(allowedOutboundHosts ?? []);
        if (manifestVersion == 1 && allowedOutboundHosts is null) list.AddRange(V1DatabaseHosts);
        list.AddRange(LegacyAllowedHttpHosts.Convert(allowedHttpHosts));
        return list;
    }

    /// <summary>
    /// Parses every component's list at load (templated entries checked with manifest defaults).
    /// </summary>
    /// <exception cref="ManifestException">Names the component, key, entry and position.</exception>
    public static IReadOnlyDictionary<string, OutboundAllowList> Build(SpinApp app)
    {
        var ids = app.Components.Keys.ToList();
        var result = new Dictionary<string, OutboundAllowList>(StringComparer.Ordinal);
        foreach (var c in app.Components.Values)
        {
            var key = $"component.{c.Id}.allowed_outbound_hosts";
            IReadOnlyList<string> entries;
            try
            {
                entries = EffectiveEntries(app.ManifestVersion, c.AllowedOutboundHosts, c.AllowedHttpHosts);
            }
            catch (AllowedHostException e)
            {
                var legacyKey = $"component.{c.Id}.allowed_http_hosts";
                throw new ManifestException(app.ManifestPath, legacyKey, AllowedHostEntry.Quote(e.Entry), app.LocationOf(legacyKey), e.Message, e);
            }
            foreach (var entry in entries)
            {
                // A template naming an undeclared variable can never resolve: say so now rather than deny every request.
                var refs = Spindle.App.Variables.Template.TryParse(entry)?.References ?? [];
                foreach (var r in refs)
                    if (!app.Variables.ContainsKey(r))
                        throw new ManifestException(app.ManifestPath, key, AllowedHostEntry.Quote(entry), app.LocationOf(key),
                            $"references undefined variable '{r}' (declare it under [variables])");
            }
            try
            {
                result[c.Id] = OutboundAllowList.Parse(entries, ids,
                    name => app.Variables.TryGetValue(name, out var d) ? d.Default : null);
            }
            catch (AllowedHostException e)
            {
                throw new ManifestException(app.ManifestPath, key, AllowedHostEntry.Quote(e.Entry), app.LocationOf(key), e.Message, e);
            }
        }
        return result;
    }
}
