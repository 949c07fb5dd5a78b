using System.Net;
using Spindle.App.Manifest;
using Spindle.App.RuntimeConfiguration;
using Tomlyn.Model;

namespace Spindle.Trigger.Tests.Manifest;

public sealed class RuntimeConfigTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "spindle-tests", Guid.NewGuid().ToString("N"));

    public RuntimeConfigTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Write(string relative, string content)
    {
        var full = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }

    private RuntimeConfig Load(string toml) => RuntimeConfigLoader.Load(Write("runtime-config.toml", toml));

    /// <summary>Loads <paramref name="toml"/>, expecting failure; checks the message names file, key and value.</summary>
    private ManifestException Fails(string toml, string keyPath, string value)
    {
        var e = Assert.Throws<ManifestException>(() => Load(toml));
        Assert.Contains("runtime-config.toml", e.Message);
        Assert.Contains(keyPath, e.Message);
        Assert.Contains(value, e.Message);
        Assert.Equal((keyPath, value), (e.KeyPath, e.Value));
        return e;
    }

    [Fact]
    public void Empty_file_gives_defaults()
    {
        var c = Load("");

        Assert.Equal(Path.Combine(_dir, "runtime-config.toml"), c.Path);
        Assert.True(c.OutboundHttp.ConnectionPooling);
        Assert.Null(c.OutboundHttp.MaxConnections);
        Assert.Empty(c.BlockNetworks.Entries);
        Assert.False(c.BlockNetworks.IsBlocked(IPAddress.Loopback));
        Assert.Empty(c.ClientTls);
        Assert.Empty(c.OtherTables);
        Assert.Empty(c.Warnings);
        Assert.Null(RuntimeConfig.Empty.Path);
        Assert.True(RuntimeConfig.Empty.OutboundHttp.ConnectionPooling);
    }

    [Fact]
    public void Every_key_is_read_and_paths_resolve_beside_the_file()
    {
        Write("certs/ca.pem", "ca");
        Write("certs/cert.pem", "cert");
        Write("key.pem", "key");

        var c = Load("""
            [outbound_http]
            connection_pooling = false
            max_connections = 10
            [outbound_networking]
            block_networks = ["1.1.1.1/32", "private", "2001:db8::/32"]
            [[client_tls]]
            component_ids = ["a", "b"]
            hosts = ["example.com", "api.example.com:8443"]
            ca_use_platform_roots = false
            ca_use_webpki_roots = true
            ca_roots_file = "certs/ca.pem"
            client_cert_file = "certs/cert.pem"
            client_private_key_file = "./key.pem"
            [[client_tls]]
            component_ids = ["c"]
            hosts = ["other.example.com"]
            """);

        Assert.False(c.OutboundHttp.ConnectionPooling);
        Assert.Equal(10, c.OutboundHttp.MaxConnections);
        Assert.Equal(["1.1.1.1/32", "private", "2001:db8::/32"], c.BlockNetworks.Entries);
        Assert.True(c.BlockNetworks.BlocksPrivate);
        Assert.Equal([IPNetwork.Parse("1.1.1.1/32"), IPNetwork.Parse("2001:db8::/32")], c.BlockNetworks.Networks);
        Assert.Equal(2, c.ClientTls.Count);
        var tls = c.ClientTls[0];
        Assert.Equal(["a", "b"], tls.ComponentIds);
        Assert.Equal(["example.com", "api.example.com:8443"], tls.Hosts);
        Assert.False(tls.CaUsePlatformRoots);
        Assert.True(tls.CaUseWebpkiRoots);
        Assert.Equal(Path.Combine(_dir, "certs", "ca.pem"), tls.CaRootsFile);
        Assert.Equal(Path.Combine(_dir, "certs", "cert.pem"), tls.ClientCertFile);
        Assert.Equal(Path.Combine(_dir, "key.pem"), tls.ClientPrivateKeyFile);
        var plain = c.ClientTls[1];
        Assert.True(plain.CaUsePlatformRoots);
        Assert.Equal((null, null, null), (plain.CaRootsFile, plain.ClientCertFile, plain.ClientPrivateKeyFile));
        Assert.Empty(c.Warnings);
    }

    [Fact]
    public void Deprecated_max_concurrent_requests_is_max_connections_with_a_warning()
    {
        var c = Load("[outbound_http]\nconnection_pooling = true\nmax_concurrent_requests = 4\n");

        // Spin keeps the old meaning: max_concurrent_requests = n allowed n + 1 connections.
        Assert.Equal(5, c.OutboundHttp.MaxConnections);
        Assert.True(c.OutboundHttp.ConnectionPooling);
        var warning = Assert.Single(c.Warnings);
        Assert.Contains("runtime-config.toml:3:1", warning);
        Assert.Contains("outbound_http.max_concurrent_requests = 4", warning);
        Assert.Contains("max_connections", warning);
    }

    [Fact]
    public void Other_tables_are_preserved()
    {
        var c = Load("""
            [key_value_store.default]
            type = "redis"
            url = "redis://localhost"
            [sqlite_database.default]
            type = "spin"
            [variables_vault]
            url = "http://vault"
            [llm_compute]
            type = "remote_http"
            """);

        Assert.Equal(["llm_compute", "variables_vault"], c.OtherTables.Keys.Order());
        Assert.Equal(("default", null), (c.SqliteDatabases.Single().Label, c.SqliteDatabases.Single().Path));
        Assert.Equal("http://vault", c.OtherTables["variables_vault"]["url"]);
        var kv = Assert.Single(c.KeyValueStores);
        Assert.Equal(("default", KeyValueStoreKind.Redis, "redis://localhost"), (kv.Label, kv.Kind, kv.Url));
    }

    [Fact]
    public void Key_value_stores_resolve_paths_beside_the_file_and_check_their_keys()
    {
        var c = Load("""
            state_dir = "state"
            [key_value_store.files]
            type = "spin"
            path = "data/kv.db"
            [key_value_store.memory]
            type = "spin"
            """);
        Assert.Equal(Path.Combine(_dir, "state"), c.StateDirectory);
        Assert.Equal([("files", Path.Combine(_dir, "data", "kv.db")), ("memory", null)], c.KeyValueStores.Select(s => (s.Label, s.Path)));

        var e = Assert.Throws<ManifestException>(() => Load("""
            [key_value_store.cache]
            type = "redis"
            url = "http://not-redis"
            """));
        Assert.Contains("key_value_store.cache.url", e.Message);
        Assert.Contains("http://not-redis", e.Message);
        e = Assert.Throws<ManifestException>(() => Load("""
            [key_value_store.cache]
            type = "spin"
            url = "redis://x"
            """));
        Assert.Contains("key_value_store.cache", e.Message);
        Assert.Contains("url", e.Message);
        e = Assert.Throws<ManifestException>(() => Load("""
            [sqlite_database.remote]
            type = "libsql"
            """));
        Assert.Contains("sqlite_database.remote.type", e.Message);
        Assert.Contains("libsql", e.Message);
    }

    [Fact]
    public void Missing_file_names_the_file()
    {
        var path = Path.Combine(_dir, "nope.toml");
        var e = Assert.Throws<ManifestException>(() => RuntimeConfigLoader.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Toml_syntax_error_names_file_and_position()
    {
        var e = Assert.Throws<ManifestException>(() => Load("[outbound_http]\nconnection_pooling = \n"));
        Assert.Contains("runtime-config.toml:2:", e.Message);
        Assert.Contains("invalid TOML", e.Message);
    }

    [Theory]
    [InlineData("[outbound_http]\nconnection_pooling = \"yes\"", "outbound_http.connection_pooling", "\"yes\"")]
    [InlineData("[outbound_http]\nmax_connections = \"10\"", "outbound_http.max_connections", "\"10\"")]
    [InlineData("[outbound_http]\nmax_connections = -3", "outbound_http.max_connections", "-3")]
    [InlineData("[outbound_http]\nmax_concurrent_requests = -1", "outbound_http.max_concurrent_requests", "-1")]
    [InlineData("[outbound_http]\nmax_connections = 1.5", "outbound_http.max_connections", "1.5")]
    [InlineData("[outbound_http]\nmax_connections = 1\nmax_concurrent_requests = 2", "outbound_http.max_concurrent_requests", "2")]
    [InlineData("[outbound_http]\npool = true", "outbound_http.pool", "true")]
    [InlineData("outbound_http = 5", "outbound_http", "5")]
    [InlineData("[outbound_networking]\nblock_networks = \"private\"", "outbound_networking.block_networks", "\"private\"")]
    [InlineData("[outbound_networking]\nblock_networks = [\"private\", \"10.0.0.0/33\"]", "outbound_networking.block_networks[1]", "\"10.0.0.0/33\"")]
    [InlineData("[outbound_networking]\nblock_networks = [\"banana\"]", "outbound_networking.block_networks[0]", "\"banana\"")]
    [InlineData("[outbound_networking]\nblock_networks = [\"::1/129\"]", "outbound_networking.block_networks[0]", "\"::1/129\"")]
    [InlineData("[outbound_networking]\nblock_networks = [\"10\"]", "outbound_networking.block_networks[0]", "\"10\"")]
    [InlineData("[outbound_networking]\nblock_networks = [\"private\", 7]", "outbound_networking.block_networks[1]", "7")]
    [InlineData("[outbound_networking]\nallow = []", "outbound_networking.allow", "[]")]
    [InlineData("[client_tls]\nhosts = [\"a\"]", "client_tls", "{ hosts = [\"a\"] }")]
    [InlineData("[[client_tls]]\nhosts = [\"a\"]\ncomponent_ids = \"c\"", "client_tls[0].component_ids", "\"c\"")]
    [InlineData("[[client_tls]]\nhosts = [\"a\"]\ncomponent_ids = [\"c\"]\nca_use_platform_roots = 1", "client_tls[0].ca_use_platform_roots", "1")]
    [InlineData("[[client_tls]]\nhosts = [\"a\"]\ncomponent_ids = [\"c\"]\nverify = false", "client_tls[0].verify", "false")]
    [InlineData("[[client_tls]]\nhosts = []\ncomponent_ids = [\"c\"]", "client_tls[0].hosts", "[]")]
    [InlineData("[[client_tls]]\nhosts = [\"a\"]\ncomponent_ids = [\"ok\", \"Not_Kebab\"]", "client_tls[0].component_ids[1]", "\"Not_Kebab\"")]
    [InlineData("[[client_tls]]\nhosts = [\"a\"]\ncomponent_ids = [\"c\"]\n[[client_tls]]\nhosts = [\"b\"]\ncomponent_ids = [\"d\"]\nca_roots_file = \"missing.pem\"", "client_tls[1].ca_roots_file", "\"missing.pem\"")]
    [InlineData("[[client_tls]]\nhosts = [\"a\"]\ncomponent_ids = [\"c\"]\nclient_cert_file = \"nope/cert.pem\"\nclient_private_key_file = \"key.pem\"", "client_tls[0].client_cert_file", "\"nope/cert.pem\"")]
    [InlineData("[[client_tls]]\nhosts = [\"a\"]\ncomponent_ids = [\"c\"]\nclient_private_key_file = \"key.pem\"", "client_tls[0].client_private_key_file", "\"key.pem\"")]
    [InlineData("stray = 1", "stray", "1")]
    public void Bad_values_are_reported_with_file_key_and_value(string toml, string keyPath, string value)
    {
        Write("key.pem", "key");
        Fails(toml, keyPath, value);
    }

    [Fact]
    public void Missing_required_client_tls_keys_are_named()
    {
        var e = Assert.Throws<ManifestException>(() => Load("[[client_tls]]\nhosts = [\"a\"]\n"));
        Assert.Contains("runtime-config.toml", e.Message);
        Assert.Equal("client_tls[0].component_ids", e.KeyPath);
        e = Assert.Throws<ManifestException>(() => Load("[[client_tls]]\ncomponent_ids = [\"c\"]\n"));
        Assert.Equal("client_tls[0].hosts", e.KeyPath);
    }

    [Fact]
    public void Missing_referenced_file_message_names_the_resolved_path()
    {
        var e = Fails("[[client_tls]]\nhosts = [\"a\"]\ncomponent_ids = [\"c\"]\nca_roots_file = \"ca.pem\"\n", "client_tls[0].ca_roots_file", "\"ca.pem\"");
        Assert.Contains(Path.Combine(_dir, "ca.pem"), e.Message);
        Assert.Contains("runtime-config.toml:4:1", e.Message);
    }

    [Fact]
    public void Max_connections_zero_allows_none_and_a_present_table_defaults_pooling_off_as_in_Spin()
    {
        var http = Load("[outbound_http]\nmax_connections = 0\n").OutboundHttp;

        Assert.Equal(0, http.MaxConnections);
        Assert.False(http.ConnectionPooling);
    }

    [Fact]
    public void Ca_root_defaults_follow_Spin()
    {
        Write("ca.pem", "ca");
        var c = Load("""
            [[client_tls]]
            component_ids = ["a"]
            hosts = ["h"]
            ca_roots_file = "ca.pem"
            [[client_tls]]
            component_ids = ["a"]
            hosts = ["h"]
            ca_use_webpki_roots = true
            [[client_tls]]
            component_ids = ["a"]
            hosts = ["h"]
            ca_roots_file = "ca.pem"
            ca_use_platform_roots = true
            """);

        Assert.Equal([(false, false), (false, true), (true, false)], c.ClientTls.Select(t => (t.CaUsePlatformRoots, t.CaUseWebpkiRoots)));
    }

    [Fact]
    public void Host_bits_are_cleared_as_in_Spin()
    {
        var b = Load("[outbound_networking]\nblock_networks = [\"8.8.8.8/16\"]\n").BlockNetworks;

        Assert.Equal([IPNetwork.Parse("8.8.0.0/16")], b.Networks);
        Assert.True(b.IsBlocked(IPAddress.Parse("8.8.200.1")));
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("10.1.2.3", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("192.168.0.1", true)]
    [InlineData("169.254.169.254", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("198.18.0.1", true)]
    [InlineData("203.0.113.7", true)]
    [InlineData("224.0.0.1", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("::1", true)]
    [InlineData("::", true)]
    [InlineData("fd00::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("ff02::1", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("::10.0.0.1", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("172.32.0.1", false)]
    [InlineData("100.128.0.1", false)]
    [InlineData("::ffff:8.8.8.8", false)]
    [InlineData("2606:4700::1111", false)]
    public void Private_blocks_exactly_the_non_global_addresses(string address, bool blocked) =>
        Assert.Equal(blocked, new BlockedNetworks(["private"]).IsBlocked(IPAddress.Parse(address)));

    [Fact]
    public void Cidr_and_bare_address_entries_block_their_addresses_only()
    {
        var b = Load("[outbound_networking]\nblock_networks = [\"93.184.0.0/16\", \"1.1.1.1\", \"2606:4700::1111\"]\n").BlockNetworks;

        Assert.False(b.BlocksPrivate);
        Assert.Equal([IPNetwork.Parse("93.184.0.0/16"), IPNetwork.Parse("1.1.1.1/32"), IPNetwork.Parse("2606:4700::1111/128")], b.Networks);
        Assert.True(b.IsBlocked(IPAddress.Parse("93.184.216.34")));
        Assert.True(b.IsBlocked(IPAddress.Parse("::ffff:93.184.216.34")));
        Assert.True(b.IsBlocked(IPAddress.Parse("::93.184.216.34")));
        Assert.False(b.IsBlocked(IPAddress.Parse("93.185.0.1")));
        Assert.True(b.IsBlocked(IPAddress.Parse("1.1.1.1")));
        Assert.False(b.IsBlocked(IPAddress.Parse("1.1.1.2")));
        Assert.True(b.IsBlocked(IPAddress.Parse("2606:4700::1111")));
        Assert.False(b.IsBlocked(IPAddress.Parse("2606:4700::1112")));
        Assert.False(b.IsBlocked(IPAddress.Loopback));
    }

    [Fact]
    public void Constructor_rejects_bad_entries()
    {
        Assert.Throws<FormatException>(() => new BlockedNetworks(["banana"]));
        Assert.False(BlockedNetworks.IsValidEntry("Private"));
        Assert.True(BlockedNetworks.IsValidEntry("::ffff:0:0/96"));
    }
}
