using System.Net;
using System.Net.Sockets;
using Tomlyn.Model;

namespace Spindle.App.RuntimeConfiguration;

/// <summary>
/// Spin's runtime-config file (<c>spin up --runtime-config-file</c>): outbound HTTP, key-value stores, SQLite
/// databases and the state directory. Tables owned by subsystems Spindle does not serve yet (variables providers,
/// LLM) are kept untouched in <see cref="OtherTables"/>.
/// </summary>
public sealed class RuntimeConfig
{
    /// <summary>No runtime-config file: Spin's defaults.</summary>
    public static RuntimeConfig Empty { get; } = new();

    /// <summary>Full path of the file read, or <c>null</c> for <see cref="Empty"/>.</summary>
    public string? Path { get; init; }

    /// <summary>The <c>[outbound_http]</c> table.</summary>
    public OutboundHttpConfig OutboundHttp { get; init; } = new();

    /// <summary>The <c>[outbound_networking]</c> <c>block_networks</c> list.</summary>
    public BlockedNetworks BlockNetworks { get; init; } = BlockedNetworks.None;

    /// <summary>The <c>[[client_tls]]</c> entries, in file order.</summary>
    public IReadOnlyList<ClientTlsConfig> ClientTls { get; init; } = [];

    /// <summary>The <c>[key_value_store.&lt;label&gt;]</c> tables, in file order.</summary>
    public IReadOnlyList<KeyValueStoreConfig> KeyValueStores { get; init; } = [];

    /// <summary>The <c>[sqlite_database.&lt;label&gt;]</c> tables, in file order.</summary>
    public IReadOnlyList<SqliteDatabaseConfig> SqliteDatabases { get; init; } = [];

    /// <summary>The top-level <c>state_dir</c> (full path), or <c>null</c> when absent or empty.</summary>
    public string? StateDirectory { get; init; }

    /// <summary>Top-level tables this loader does not interpret, by name, for other loaders to read.</summary>
    public IReadOnlyDictionary<string, TomlTable> OtherTables { get; init; } = new Dictionary<string, TomlTable>();

    /// <summary>Non-fatal findings (deprecated keys), formatted like <c>ManifestException</c> messages.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>Backends of a key-value store.</summary>
public enum KeyValueStoreKind
{
    /// <summary><c>type = "spin"</c>: a SQLite file (Spin's layout), or in memory without a path.</summary>
    Spin,

    /// <summary><c>type = "redis"</c>: a Redis server; keys are used verbatim (Spin's layout).</summary>
    Redis,
}

/// <summary>One <c>[key_value_store.&lt;label&gt;]</c> table.</summary>
/// <param name="Label">The store's label, as components name it in <c>key_value_stores</c>.</param>
/// <param name="Kind">Its backend.</param>
/// <param name="Path">For <see cref="KeyValueStoreKind.Spin"/>: the database file's full path (relative paths resolve beside the runtime-config file), or <c>null</c> for an in-memory database.</param>
/// <param name="Url">For <see cref="KeyValueStoreKind.Redis"/>: the server URL.</param>
public sealed record KeyValueStoreConfig(string Label, KeyValueStoreKind Kind, string? Path, string? Url);

/// <summary>One <c>[sqlite_database.&lt;label&gt;]</c> table (<c>type = "spin"</c>).</summary>
/// <param name="Label">The database's label, as components name it in <c>sqlite_databases</c>.</param>
/// <param name="Path">The database file's full path (relative paths resolve beside the runtime-config file), or <c>null</c> for in memory.</param>
public sealed record SqliteDatabaseConfig(string Label, string? Path);

/// <summary>The <c>[outbound_http]</c> table.</summary>
public sealed class OutboundHttpConfig
{
    /// <summary>
    /// Whether outbound HTTP connections are pooled and reused. Yes without an <c>[outbound_http]</c> table; with
    /// one, Spin reads a missing <c>connection_pooling</c> as false, and so does the loader.
    /// </summary>
    public bool ConnectionPooling { get; init; } = true;

    /// <summary>Limit on concurrent outbound connections (0 allows none), or <c>null</c> for no limit.</summary>
    public int? MaxConnections { get; init; }
}

/// <summary>One <c>[[client_tls]]</c> entry: TLS settings for some components talking to some hosts.</summary>
public sealed class ClientTlsConfig
{
    /// <summary>Components the settings apply to.</summary>
    public required IReadOnlyList<string> ComponentIds { get; init; }

    /// <summary>Hosts (optionally with port) the settings apply to.</summary>
    public required IReadOnlyList<string> Hosts { get; init; }

    /// <summary>Full path of a PEM file of extra CA roots, if given.</summary>
    public string? CaRootsFile { get; init; }

    /// <summary>
    /// Whether the platform's CA roots are trusted as well. Spin's default: yes, unless <see cref="CaRootsFile"/> or
    /// <c>ca_use_webpki_roots</c> is given.
    /// </summary>
    public bool CaUsePlatformRoots { get; init; } = true;

    /// <summary>Whether the webpki (Mozilla) CA bundle is trusted as well (Spin's default: no).</summary>
    public bool CaUseWebpkiRoots { get; init; }

    /// <summary>Full path of the PEM client certificate chain, if given (always with <see cref="ClientPrivateKeyFile"/>).</summary>
    public string? ClientCertFile { get; init; }

    /// <summary>Full path of the PEM client private key, if given (always with <see cref="ClientCertFile"/>).</summary>
    public string? ClientPrivateKeyFile { get; init; }
}

/// <summary>
/// Spin's <c>block_networks</c>: IP networks outbound connections must not reach. Each entry is <c>"private"</c>
/// (every address that is not globally routable) or a network in CIDR notation; a bare address is a /32 or /128.
/// </summary>
public sealed class BlockedNetworks
{
    /// <summary>The entry that stands for every non-globally-routable address.</summary>
    public const string PrivateEntry = "private";

    // IANA special-purpose registries (RFC 6890 and successors): ranges that are not globally routable.
    private static readonly IPNetwork[] NonGlobal =
    [
        .. new[]
        {
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
            "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", // 240/4 includes 255.255.255.255
            "::/128", "::1/128", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
        }.Select(IPNetwork.Parse),
    ];

    /// <summary>Blocks nothing.</summary>
    public static BlockedNetworks None { get; } = new([]);

    /// <summary>Parses the entries.</summary>
    /// <exception cref="FormatException">An entry is neither <c>"private"</c> nor an IP network.</exception>
    public BlockedNetworks(IEnumerable<string> entries)
    {
        Entries = [.. entries];
        var networks = new List<IPNetwork>();
        foreach (var entry in Entries)
        {
            if (entry == PrivateEntry) BlocksPrivate = true;
            else networks.Add(ParseNetwork(entry) ?? throw new FormatException($"'{entry}' is neither \"{PrivateEntry}\" nor an IP network"));
        }
        Networks = networks;
    }

    /// <summary>The entries as written.</summary>
    public IReadOnlyList<string> Entries { get; }

    /// <summary>Whether <c>"private"</c> is listed.</summary>
    public bool BlocksPrivate { get; }

    /// <summary>The listed networks (bare addresses as single-address networks).</summary>
    public IReadOnlyList<IPNetwork> Networks { get; }

    /// <summary>Whether <paramref name="entry"/> is <c>"private"</c>, an IP address or a CIDR network.</summary>
    public static bool IsValidEntry(string entry) => entry == PrivateEntry || ParseNetwork(entry) is not null;

    /// <summary>
    /// Whether connecting to <paramref name="address"/> is forbidden. An IPv6 address embedding an IPv4 one
    /// (<c>::ffff:a.b.c.d</c>, or the deprecated <c>::a.b.c.d</c>) is also judged as that IPv4 address, as Spin
    /// does, so <c>::ffff:10.0.0.1</c> cannot slip past a block on <c>10.0.0.0/8</c>.
    /// </summary>
    public bool IsBlocked(IPAddress address) => Matches(address) || (EmbeddedIPv4(address) is { } v4 && Matches(v4));

    private bool Matches(IPAddress address) =>
        (BlocksPrivate && NonGlobal.Any(n => n.Contains(address))) || Networks.Any(n => n.Contains(address));

    private static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return null;
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return bytes[..12].ContainsAnyExcept((byte)0) ? null : new IPAddress(bytes[12..]);
    }

    private static IPNetwork? ParseNetwork(string entry)
    {
        var slash = entry.IndexOf('/');
        var text = slash < 0 ? entry : entry[..slash];
        // IPAddress.TryParse also takes "10", "10.1" and octal "010.0.0.1"; only canonical dotted quads are meant.
        if (!IPAddress.TryParse(text, out var address) || text.Contains('%')
            || (address.AddressFamily == AddressFamily.InterNetwork && address.ToString() != text))
            return null;
        if (slash < 0) return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        // TryParse rejects a prefix out of range and clears host bits ("10.0.0.1/8" is 10.0.0.0/8), as Spin does.
        return entry[(slash + 1)..].All(char.IsAsciiDigit) && IPNetwork.TryParse(entry, out var network) ? network : null;
    }
}
