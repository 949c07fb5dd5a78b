using Spindle.App.Model;
using Spindle.App.RuntimeConfiguration;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// An application's key-value stores, as Spin's key-value factor sets them up: the runtime config maps labels to
/// backends; <c>default</c> is always there (a SQLite file <c>sqlite_key_value.db</c> in the state directory unless
/// the runtime config maps it elsewhere); every label a component lists in <c>key_value_stores</c> must be mapped.
/// Backends are opened at startup for the labels some component uses (so a Redis server that is down is one
/// startup error naming the store and the URL), never for the others.
/// </summary>
public sealed class KeyValueStores : IDisposable
{
    /// <summary>The label every application has.</summary>
    public const string DefaultLabel = "default";

    /// <summary>The default store's file name in the state directory (Spin's).</summary>
    public const string DefaultFileName = "sqlite_key_value.db";

    private readonly Dictionary<string, IKeyValueStore> _stores;
    private readonly List<IDisposable> _owned;
    private readonly Dictionary<string, HashSet<string>> _allowed;

    private KeyValueStores(Dictionary<string, IKeyValueStore> stores, List<IDisposable> owned, Dictionary<string, HashSet<string>> allowed,
        IReadOnlyList<string> summary)
    {
        _stores = stores;
        _owned = owned;
        _allowed = allowed;
        Summary = summary;
    }

    /// <summary>One line per opened store, such as <c>default: SQLite /app/.spin/sqlite_key_value.db</c>.</summary>
    public IReadOnlyList<string> Summary { get; }

    /// <summary>
    /// Checks the components' labels and opens the stores they use. <paramref name="stateDirectory"/> is
    /// <c>--state-dir</c>; without it the runtime config's <c>state_dir</c>, else <c>.spin</c> beside the manifest.
    /// <paramref name="openDefault"/> opens <c>default</c> even if no component lists it (to seed it).
    /// </summary>
    /// <exception cref="KeyValueConfigurationException">A label is not mapped, or a store cannot be opened.</exception>
    public static async Task<KeyValueStores> OpenAsync(SpinApp app, RuntimeConfig config, string? stateDirectory = null, bool openDefault = false)
    {
        var configured = new Dictionary<string, KeyValueStoreConfig>(StringComparer.Ordinal);
        foreach (var c in config.KeyValueStores) configured[c.Label] = c;
        if (!configured.ContainsKey(DefaultLabel))
        {
            var dir = StateDirectory.Resolve(app, config, stateDirectory);
            configured[DefaultLabel] = new KeyValueStoreConfig(DefaultLabel, KeyValueStoreKind.Spin, Path.GetFullPath(Path.Combine(dir, DefaultFileName)), null);
        }

        var allowed = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var used = new SortedSet<string>(StringComparer.Ordinal);
        if (openDefault) used.Add(DefaultLabel);
        foreach (var (id, component) in app.Components)
        {
            foreach (var label in component.KeyValueStores)
                if (!configured.ContainsKey(label))
                    throw new KeyValueConfigurationException(
                        $"unknown key_value_stores label \"{label}\" for component \"{id}\": add a [key_value_store.{label}] table to the runtime config (--runtime-config-file)");
            allowed[id] = new HashSet<string>(component.KeyValueStores, StringComparer.Ordinal);
            used.UnionWith(component.KeyValueStores);
        }

        var stores = new Dictionary<string, IKeyValueStore>(StringComparer.Ordinal);
        var owned = new List<IDisposable>();
        var databases = new Dictionary<string, SqliteKeyValueDatabase>(StringComparer.Ordinal);
        var summary = new List<string>();
        var current = "";
        try
        {
            foreach (var label in used)
            {
                current = label;
                var c = configured[label];
                switch (c.Kind)
                {
                    case KeyValueStoreKind.Spin:
                        SqliteKeyValueDatabase db;
                        if (c.Path is null) owned.Add(db = new SqliteKeyValueDatabase(null));
                        else if (!databases.TryGetValue(c.Path, out db!)) owned.Add(databases[c.Path] = db = new SqliteKeyValueDatabase(c.Path));
                        stores[label] = db.Store(label);
                        summary.Add($"{label}: SQLite {c.Path ?? "in memory"}");
                        break;
                    case KeyValueStoreKind.Redis:
                        var redis = await RedisKeyValueStore.ConnectAsync(c.Url!).ConfigureAwait(false);
                        owned.Add(redis);
                        stores[label] = redis;
                        summary.Add($"{label}: Redis at {c.Url}");
                        break;
                }
            }
        }
        catch (KeyValueException e)
        {
            foreach (var o in owned) o.Dispose();
            var at = config.Path is { } p ? $" ({p})" : "";
            throw new KeyValueConfigurationException($"key-value store \"{current}\"{at}: {e.Message}", e);
        }
        return new KeyValueStores(stores, owned, allowed, summary);
    }

    /// <summary>What <paramref name="componentId"/> may open (the labels of its <c>key_value_stores</c>).</summary>
    public ComponentKeyValue ForComponent(string componentId) =>
        new(this, _allowed.GetValueOrDefault(componentId) ?? []);

    /// <summary>Sets <c>spindle up --key-value KEY=VALUE</c> pairs in the <c>default</c> store (as UTF-8 bytes), replacing values.</summary>
    public async Task SeedDefaultAsync(IReadOnlyCollection<KeyValuePair<string, string>> pairs)
    {
        if (pairs.Count == 0) return;
        var store = _stores.GetValueOrDefault(DefaultLabel) ?? throw new InvalidOperationException("the default store was not opened (OpenAsync(openDefault: true))");
        foreach (var (k, v) in pairs) await store.SetAsync(k, System.Text.Encoding.UTF8.GetBytes(v)).ConfigureAwait(false);
    }

    internal IKeyValueStore? Get(string label) => _stores.GetValueOrDefault(label);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var o in _owned) o.Dispose();
    }
}

/// <summary>The stores one component may open.</summary>
public sealed class ComponentKeyValue
{
    private readonly KeyValueStores _stores;
    private readonly HashSet<string> _allowed;

    internal ComponentKeyValue(KeyValueStores stores, HashSet<string> allowed)
    {
        _stores = stores;
        _allowed = allowed;
    }

    /// <summary>Opens <paramref name="label"/>: the store, or why not.</summary>
    public (IKeyValueStore? Store, StateOpenError Error) Open(string label) =>
        !_allowed.Contains(label) ? (null, StateOpenError.AccessDenied)
        : _stores.Get(label) is { } store ? (store, StateOpenError.None)
        : (null, StateOpenError.NotFound);
}

/// <summary>The application's key-value stores cannot be set up (the message names the label, the component or the backend).</summary>
public sealed class KeyValueConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
