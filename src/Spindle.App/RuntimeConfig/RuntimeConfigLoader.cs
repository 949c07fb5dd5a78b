using System.Text.RegularExpressions;
using Spindle.App.Manifest;
using Spindle.App.Model;
using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Spindle.App.RuntimeConfiguration;

/// <summary>
/// Reads Spin's runtime-config TOML file. Every problem is a <see cref="ManifestException"/> naming file, key path,
/// value and position; tables owned by other subsystems are passed through in <see cref="RuntimeConfig.OtherTables"/>.
/// </summary>
public static partial class RuntimeConfigLoader
{
    [GeneratedRegex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$")]
    private static partial Regex KebabId();

    private delegate void SectionReader(TomlNode root, string key, Draft config);

    // The top-level tables read here. A new section is one method plus one line; the rest go to OtherTables.
    private static readonly Dictionary<string, SectionReader> Sections = new(StringComparer.Ordinal)
    {
        ["outbound_http"] = ReadOutboundHttp,
        ["outbound_networking"] = ReadOutboundNetworking,
        ["client_tls"] = ReadClientTls,
        ["key_value_store"] = ReadKeyValueStores,
        ["sqlite_database"] = ReadSqliteDatabases,
        ["state_dir"] = ReadStateDir,
    };

    /// <summary>Loads the runtime-config file at <paramref name="path"/>; relative paths in it resolve beside it.</summary>
    public static RuntimeConfig Load(string path)
    {
        var file = Path.GetFullPath(path);
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ManifestException(file, null, null, null, $"cannot read runtime config: {e.Message}", e);
        }
        return Parse(text, file);
    }

    /// <summary>Parses runtime-config text as if read from <paramref name="file"/> (relative paths resolve beside it).</summary>
    public static RuntimeConfig Parse(string text, string file)
    {
        var store = new TomlMetadataStore();
        // Parsed like the manifest (TomlDocument): [[client_tls]] entries may be interleaved with other tables.
        var root = new TomlNode(new ManifestFile(file, store), TomlDocument.Parse(text, file, store), "");
        var draft = new Draft(file);
        foreach (var key in root.Keys)
        {
            if (Sections.TryGetValue(key, out var read)) read(root, key, draft);
            else draft.OtherTables[key] = root.Raw(key) as TomlTable ?? throw root.Error(key, "expected a table", root.Raw(key));
        }
        return new RuntimeConfig
        {
            Path = file,
            OutboundHttp = draft.OutboundHttp,
            BlockNetworks = draft.BlockNetworks,
            ClientTls = draft.ClientTls,
            KeyValueStores = draft.KeyValueStores,
            SqliteDatabases = draft.SqliteDatabases,
            StateDirectory = draft.StateDirectory,
            OtherTables = draft.OtherTables,
            Warnings = draft.Warnings,
        };
    }

    private static void ReadOutboundHttp(TomlNode root, string key, Draft config)
    {
        const string Max = "max_connections", Deprecated = "max_concurrent_requests";
        var t = root.OptTable(key)!;
        t.DenyUnknownKeys("connection_pooling", Max, Deprecated);
        if (t.Has(Max) && t.Has(Deprecated))
            throw t.Error(Deprecated, $"is the deprecated name of {Max}; give only {Max}", t.Raw(Deprecated));
        var limitKey = t.Has(Deprecated) ? Deprecated : Max;
        int? limit = t.OptInteger(limitKey) switch
        {
            null => null,
            // Spin's semaphore gave max_concurrent_requests = n one permit more than max_connections = n.
            long n and >= 0 and < int.MaxValue => (int)n + (limitKey == Deprecated ? 1 : 0),
            var n => throw t.Error(limitKey, "must be a non-negative integer (0 allows no connections)", n),
        };
        // Formatted as an error would be, so the warning points at the line to change.
        if (limitKey == Deprecated)
            config.Warnings.Add(t.Error(Deprecated, $"deprecated; use {Max} = {limit} (the old name allowed one connection more)", t.Raw(Deprecated)).Message);
        // Spin's serde default makes a present table without connection_pooling turn pooling off.
        config.OutboundHttp = new OutboundHttpConfig { ConnectionPooling = t.OptBool("connection_pooling") ?? false, MaxConnections = limit };
    }

    private static void ReadOutboundNetworking(TomlNode root, string key, Draft config)
    {
        const string Blocks = "block_networks";
        var t = root.OptTable(key)!;
        t.DenyUnknownKeys(Blocks);
        var entries = t.OptArray(Blocks) ?? [];
        for (var i = 0; i < entries.Count; i++)
            if (entries[i] is not string s || !BlockedNetworks.IsValidEntry(s))
                throw ElementError(config, t, Blocks, i, entries[i] is string
                    ? $"expected \"{BlockedNetworks.PrivateEntry}\", an IP address or a CIDR network such as 10.0.0.0/8"
                    : "expected a string");
        config.BlockNetworks = new BlockedNetworks(entries.Cast<string>());
    }

    private static void ReadClientTls(TomlNode root, string key, Draft config)
    {
        if (root.Raw(key) is not TomlTableArray array)
            throw root.Error(key, $"expected an array of tables ([[{key}]])", root.Raw(key));
        for (var i = 0; i < array.Count; i++)
        {
            var t = root.Child(array[i], $"{key}[{i}]");
            t.DenyUnknownKeys("component_ids", "hosts", "ca_roots_file", "ca_use_platform_roots", "ca_use_webpki_roots",
                "client_cert_file", "client_private_key_file");
            var ids = NonEmptyList(t, "component_ids");
            for (var j = 0; j < ids.Count; j++)
                if (!KebabId().IsMatch(ids[j]))
                    throw ElementError(config, t, "component_ids", j, "component id must be kebab-case (lower-case letters, digits, single '-')");
            var caRoots = ExistingFile(t, "ca_roots_file", config);
            var cert = ExistingFile(t, "client_cert_file", config);
            var privateKey = ExistingFile(t, "client_private_key_file", config);
            if ((cert is null) != (privateKey is null))
            {
                var (given, missing) = cert is null ? ("client_private_key_file", "client_cert_file") : ("client_cert_file", "client_private_key_file");
                throw t.Error(given, $"{missing} must be given too (a client certificate needs its private key)", t.Raw(given));
            }
            var (platform, webpki) = (t.OptBool("ca_use_platform_roots"), t.OptBool("ca_use_webpki_roots"));
            config.ClientTls.Add(new ClientTlsConfig
            {
                ComponentIds = ids,
                Hosts = NonEmptyList(t, "hosts"),
                CaRootsFile = caRoots,
                // Spin: naming one root source turns the other defaults off; with neither, platform roots unless a file is given.
                CaUsePlatformRoots = platform ?? (webpki is null && caRoots is null),
                CaUseWebpkiRoots = webpki ?? false,
                ClientCertFile = cert,
                ClientPrivateKeyFile = privateKey,
            });
        }
    }

    private static void ReadKeyValueStores(TomlNode root, string key, Draft config)
    {
        var stores = root.OptTable(key)!;
        foreach (var name in stores.Keys)
        {
            var t = stores.OptTable(name) ?? throw stores.Error(name, "expected a table ([key_value_store.<label>] with a type)", stores.Raw(name));
            var type = t.OptString("type") ?? throw t.Error("type", "missing required key (\"spin\" or \"redis\")");
            switch (type)
            {
                case "spin":
                    t.DenyUnknownKeys("type", "path");
                    // Spin: a relative path is relative to the runtime-config file; no path is an in-memory database.
                    var path = t.OptString("path") is { } p ? Path.GetFullPath(Path.Combine(config.Directory, p)) : null;
                    config.KeyValueStores.Add(new KeyValueStoreConfig(name, KeyValueStoreKind.Spin, path, null));
                    break;
                case "redis":
                    t.DenyUnknownKeys("type", "url");
                    var url = t.OptString("url") ?? throw t.Error("url", "missing required key (redis://host:port)");
                    if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host.Length == 0)
                        throw t.Error("url", "expected a Redis URL such as redis://localhost:6379", url);
                    config.KeyValueStores.Add(new KeyValueStoreConfig(name, KeyValueStoreKind.Redis, null, url));
                    break;
                default:
                    throw t.Error("type", "unknown key-value store type (Spindle serves \"spin\" and \"redis\")", type);
            }
        }
    }

    private static void ReadSqliteDatabases(TomlNode root, string key, Draft config)
    {
        var databases = root.OptTable(key)!;
        foreach (var name in databases.Keys)
        {
            var t = databases.OptTable(name) ?? throw databases.Error(name, "expected a table ([sqlite_database.<label>] with a type)", databases.Raw(name));
            var type = t.OptString("type") ?? throw t.Error("type", "missing required key (\"spin\")");
            if (type != "spin")
                throw t.Error("type", "unknown SQLite database type (Spindle serves \"spin\", a local file)", type);
            t.DenyUnknownKeys("type", "path", "allow_attach_file");
            // As for key-value stores, a relative path is relative to the runtime-config file; no path is in memory.
            var path = t.OptString("path") is { } p ? Path.GetFullPath(Path.Combine(config.Directory, p)) : null;
            config.SqliteDatabases.Add(new SqliteDatabaseConfig(name, path));
        }
    }

    private static void ReadStateDir(TomlNode root, string key, Draft config)
    {
        var dir = root.OptString(key) ?? throw root.Error(key, "expected a string (a directory)", root.Raw(key));
        // Spin reads an empty state_dir as unset.
        config.StateDirectory = dir.Length == 0 ? null : Path.GetFullPath(Path.Combine(config.Directory, dir));
    }

    private static IReadOnlyList<string> NonEmptyList(TomlNode t, string key) => t.OptStringList(key) switch
    {
        null => throw t.Error(key, "missing required key"),
        [] => throw t.Error(key, "may not be empty", t.Raw(key)),
        var list => list,
    };

    /// <summary>An error at one element of an array: <c>key[index] = value</c>, positioned at the array's key.</summary>
    private static ManifestException ElementError(Draft config, TomlNode t, string key, int index, string problem) =>
        new(config.File, $"{t.KeyPath(key)}[{index}]", TomlNode.Render(((TomlArray)t.Raw(key)!)[index]), t.LocationOf(key), problem);

    /// <summary>Spin resolves file paths against the runtime-config file's folder and reads them at startup.</summary>
    private static string? ExistingFile(TomlNode t, string key, Draft config)
    {
        if (t.OptString(key) is not { } relative) return null;
        var full = Path.GetFullPath(Path.Combine(config.Directory, relative));
        return File.Exists(full) ? full : throw t.Error(key, $"file not found: {full}", relative);
    }

    /// <summary>What the section readers fill in.</summary>
    private sealed class Draft(string file)
    {
        public string File { get; } = file;
        public string Directory { get; } = Path.GetDirectoryName(file)!;
        public OutboundHttpConfig OutboundHttp { get; set; } = new();
        public BlockedNetworks BlockNetworks { get; set; } = BlockedNetworks.None;
        public List<ClientTlsConfig> ClientTls { get; } = [];
        public List<KeyValueStoreConfig> KeyValueStores { get; } = [];
        public List<SqliteDatabaseConfig> SqliteDatabases { get; } = [];
        public string? StateDirectory { get; set; }
        public Dictionary<string, TomlTable> OtherTables { get; } = new(StringComparer.Ordinal);
        public List<string> Warnings { get; } = [];
    }
}
