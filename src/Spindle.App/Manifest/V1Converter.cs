using Tomlyn.Model;

namespace Spindle.App.Manifest;

/// <summary>
/// Rewrites a v1 manifest (<c>spin_manifest_version = "1"</c>) into the v2 layout, as Spin's compat layer does:
/// top-level <c>name/version/description/authors</c> become <c>[application]</c>; <c>trigger = { type = "http", base }</c>
/// becomes <c>[application.trigger.http]</c>; each <c>[[component]]</c> becomes <c>[component.&lt;kebab-id&gt;]</c>
/// plus a <c>[[trigger.http]]</c> from its <c>[component.trigger]</c>; <c>config</c> becomes <c>variables</c>.
/// v1 keys are checked here with their v1 paths; the v2 reader checks the rest.
/// </summary>
internal static class V1Converter
{
    private static readonly string[] V1ComponentKeys =
    [
        "id", "source", "description", "files", "exclude_files", "allowed_http_hosts", "allowed_outbound_hosts",
        "environment", "config", "trigger", "build", "key_value_stores", "sqlite_databases", "ai_models",
    ];

    public static TomlTable ToV2(TomlNode v1)
    {
        v1.DenyUnknownKeys("spin_manifest_version", "spin_version", "name", "version", "description", "authors",
            "trigger", "variables", "component");

        var application = new TomlTable { ["name"] = v1.String("name") };
        foreach (var key in new[] { "version", "description", "authors" })
            if (v1.Raw(key) is { } v) application[key] = v;

        var trigger = v1.OptTable("trigger") ?? throw v1.Error("trigger", "missing required key (trigger = { type = \"http\" })");
        trigger.DenyUnknownKeys("type", "base");
        var type = trigger.String("type");
        if (type != "http")
            throw trigger.Error("type", $"trigger type '{type}' is not supported by Spindle (only 'http')", type);
        if (trigger.OptString("base") is { } b)
            application["trigger"] = new TomlTable { ["http"] = new TomlTable { ["base"] = b } };

        var v2 = new TomlTable { ["spin_manifest_version"] = 2L, ["application"] = application };
        if (v1.Raw("variables") is { } vars) v2["variables"] = vars;

        var components = new TomlTable();
        var triggers = new TomlTableArray();
        if (v1.Raw("component") is { } raw)
        {
            if (raw is not TomlTableArray array)
                throw v1.Error("component", "expected an array of tables ([[component]])", raw);
            for (var i = 0; i < array.Count; i++)
            {
                var c = v1.Child(array[i], $"component[{i}]");
                c.DenyUnknownKeys(V1ComponentKeys);
                var id = ToKebab(c.String("id"));
                if (components.ContainsKey(id))
                    throw c.Error("id", $"duplicate component id '{id}'", c.Raw("id"));

                var ct = c.OptTable("trigger") ?? throw c.Error("trigger", "missing required table [component.trigger]");
                ct.DenyUnknownKeys("route", "executor");
                var t = new TomlTable { ["component"] = id, ["route"] = ct.Raw("route") ?? throw ct.Error("route", "missing required key") };
                if (ct.Raw("executor") is { } ex) t["executor"] = ex;

                // Reuse the v1 table itself (minus v1-only keys) so Tomlyn's positions still point into the file.
                var comp = array[i];
                comp.Remove("id");
                comp.Remove("trigger");
                if (comp.TryGetValue("config", out var config))
                {
                    comp.Remove("config");
                    comp["variables"] = config!;
                }
                // v1 compatibility: a component with no allowed_outbound_hosts keeps the database access v1 gave
                // everyone (added by the outbound layer; recorded here as the absence of the key).
                components[id] = comp;

                triggers.Add(t);
            }
        }
        v2["component"] = components;
        v2["trigger"] = new TomlTable { ["http"] = triggers };
        return v2;
    }

    /// <summary>v1 ids may use '_' and upper case; v2 ids are kebab-case.</summary>
    internal static string ToKebab(string id) => id.Replace('_', '-').ToLowerInvariant();
}
