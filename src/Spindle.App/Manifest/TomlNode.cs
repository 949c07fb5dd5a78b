using System.Globalization;
using Spindle.App.Model;
using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Spindle.App.Manifest;

/// <summary>
/// A TOML table with its key path and the means to report errors at its keys. Typed getters refuse values of the
/// wrong type with a <see cref="ManifestException"/> that names file, key, value and position.
/// </summary>
internal sealed class TomlNode
{
    private readonly ManifestFile _file;

    public TomlNode(ManifestFile file, TomlTable table, string path)
    {
        _file = file;
        Table = table;
        Path = path;
    }

    public TomlTable Table { get; }

    /// <summary>Key path of this table (empty for the root).</summary>
    public string Path { get; }

    public string KeyPath(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public bool Has(string key) => Table.ContainsKey(key);

    public IEnumerable<string> Keys => Table.Keys;

    public SourceLocation? LocationOf(string key) => _file.LocationOf(Table, key);

    public ManifestException Error(string key, string problem, object? value = null) =>
        new(_file.Name, KeyPath(key), value is null ? null : Render(value), LocationOf(key), problem);

    public ManifestException Error(string problem) => new(_file.Name, Path.Length == 0 ? null : Path, null, null, problem);

    /// <summary>Spin rejects unknown keys everywhere (<c>deny_unknown_fields</c>); so do we.</summary>
    public void DenyUnknownKeys(params string[] known)
    {
        foreach (var key in Table.Keys)
            if (Array.IndexOf(known, key) < 0)
                throw Error(key, $"unknown key '{key}' (expected one of: {string.Join(", ", known)})", Table[key]);
    }

    public void Remember(string key) => _file.Remember(KeyPath(key), LocationOf(key));

    public object? Raw(string key) => Table.TryGetValue(key, out var v) ? v : null;

    public string? OptString(string key) => Raw(key) switch
    {
        null => null,
        string s => s,
        var v => throw Error(key, "expected a string", v),
    };

    public string String(string key) => OptString(key) ?? throw Error(key, "missing required key");

    public bool? OptBool(string key) => Raw(key) switch
    {
        null => null,
        bool b => b,
        var v => throw Error(key, "expected true or false", v),
    };

    public long? OptInteger(string key) => Raw(key) switch
    {
        null => null,
        long l => l,
        var v => throw Error(key, "expected an integer", v),
    };

    public TomlNode? OptTable(string key) => Raw(key) switch
    {
        null => null,
        TomlTable t => new TomlNode(_file, t, KeyPath(key)),
        var v => throw Error(key, "expected a table", v),
    };

    public IReadOnlyList<string>? OptStringList(string key)
    {
        switch (Raw(key))
        {
            case null: return null;
            case TomlArray a:
                var list = new List<string>(a.Count);
                for (var i = 0; i < a.Count; i++)
                    list.Add(a[i] as string ?? throw Error(key, $"element {i} is not a string", a[i]));
                return list;
            case var v: throw Error(key, "expected an array of strings", v);
        }
    }

    /// <summary>An array whose elements are strings or inline tables (e.g. <c>files</c>).</summary>
    public IReadOnlyList<object>? OptArray(string key) => Raw(key) switch
    {
        null => null,
        TomlArray a => a.Select(x => x!).ToList(),
        var v => throw Error(key, "expected an array", v),
    };

    public IReadOnlyDictionary<string, string> StringMap(string key)
    {
        var t = OptTable(key);
        if (t is null) return new Dictionary<string, string>();
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var k in t.Keys)
            map[k] = t.String(k);
        return map;
    }

    public TomlNode Child(TomlTable table, string path) => new(_file, table, path);

    /// <summary>Renders a TOML value for an error message (strings quoted, tables and arrays compact).</summary>
    public static string Render(object? value) => value switch
    {
        null => "(none)",
        string s => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"",
        bool b => b ? "true" : "false",
        TomlTable t => "{ " + string.Join(", ", t.Select(kv => $"{kv.Key} = {Render(kv.Value)}")) + " }",
        TomlArray a => "[" + string.Join(", ", a.Select(Render)) + "]",
        TomlTableArray ta => "[" + string.Join(", ", ta.Select(Render)) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

/// <summary>The parsed file: its name for messages and the key positions <see cref="TomlDocument"/> recorded.</summary>
internal sealed class ManifestFile(string name, TomlMetadataStore? store)
{
    private readonly Dictionary<string, SourceLocation> _locations = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public IReadOnlyDictionary<string, SourceLocation> Locations => _locations;

    public SourceLocation? LocationOf(TomlTable table, string key)
    {
        if (store is null || !store.TryGetProperties(table, out var md) || md is null) return null;
        if (!md.TryGetProperty(key, out var pm) || pm is null) return null;
        var start = pm.Span.Start;
        // Tomlyn positions are 0-based; editors and compilers count from 1.
        return new SourceLocation(start.Line + 1, start.Column + 1);
    }

    public void Remember(string keyPath, SourceLocation? location)
    {
        if (location is { } l) _locations[keyPath] = l;
    }
}
