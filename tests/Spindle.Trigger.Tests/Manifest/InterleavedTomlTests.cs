using Spindle.App.Manifest;
using Spindle.App.Model;
using Spindle.App.RuntimeConfiguration;
using Spindle.Trigger.Tests.Support;
using Tomlyn;
using Tomlyn.Model;

namespace Spindle.Trigger.Tests.Manifest;

/// <summary>
/// Arrays of tables reopened after other tables (<c>[[trigger.http]]</c> … <c>[component.a]</c> … <c>[[trigger.http]]</c>,
/// as <c>spin add</c> writes them) keep every element. Tomlyn's <c>TomlSerializer.Deserialize&lt;TomlTable&gt;</c>
/// kept only the last run of elements, silently dropping routes.
/// </summary>
public sealed class InterleavedTomlTests : IDisposable
{
    private const string SpinAddLayout = """
        spin_manifest_version = 2
        [application]
        name = "x"
        [[trigger.http]]
        route = "/first/..."
        component = "first"
        [component.first]
        source = "a.wasm"
        [[trigger.http]]
        route = "/second/..."
        component = "second"
        [component.second]
        source = "a.wasm"
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "spindle-tests", Guid.NewGuid().ToString("N"));

    public InterleavedTomlTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private RuntimeConfig LoadRuntimeConfig(string toml)
    {
        var path = Path.Combine(_dir, "runtime-config.toml");
        File.WriteAllText(path, toml);
        return RuntimeConfigLoader.Load(path);
    }

    [Fact]
    public void Spin_add_layout_keeps_both_routes_and_both_components()
    {
        using var app = new TempApp(SpinAddLayout, "a.wasm");

        var m = ManifestLoader.Load(app.ManifestPath);

        Assert.Equal(
            [("first-http-trigger", "/first/...", "first"), ("second-http-trigger", "/second/...", "second")],
            m.HttpTriggers.Select(t => (t.Id, t.Route.Pattern, t.ComponentId)));
        Assert.Equal([0, 1], m.HttpTriggers.Select(t => t.Index));
        Assert.Equal(["first", "second"], m.Components.Keys.Order());
        // Positions still point into the file: each trigger's route is remembered at its own line.
        Assert.Equal(new SourceLocation(5, 1), m.LocationOf("trigger.http[0].route"));
        Assert.Equal(new SourceLocation(10, 1), m.LocationOf("trigger.http[1].route"));
    }

    [Fact]
    public void Many_interleavings_keep_every_trigger_in_manifest_order()
    {
        using var app = new TempApp("""
            spin_manifest_version = 2
            [[trigger.http]]
            route = "/a"
            component = "a"
            [application]
            name = "x"
            [[trigger.http]]
            route = "/b"
            component = "b"
            [variables]
            greeting = { default = "hi" }
            [component.a]
            source = "a.wasm"
            [[trigger.http]]
            route = "/c"
            component = "a"
            id = "c"
            [application.trigger.http]
            base = "/"
            [component.b]
            source = "a.wasm"
            variables = { message = "{{ greeting }}" }
            [[trigger.http]]
            route = "/d"
            static_response = { body = "d" }
            """, "a.wasm");

        var m = ManifestLoader.Load(app.ManifestPath);

        Assert.Equal(["/a", "/b", "/c", "/d"], m.HttpTriggers.Select(t => t.Route.Pattern));
        Assert.Equal(["a", "b", "a", null], m.HttpTriggers.Select(t => t.ComponentId));
        Assert.Equal("d", m.HttpTriggers[3].StaticResponse!.Body);
        Assert.Equal("x", m.Name);
        Assert.Equal("hi", m.Variables["greeting"].Default);
        Assert.Equal("{{ greeting }}", m.Components["b"].Variables["message"]);
    }

    [Fact]
    public void Sub_tables_after_an_interleaved_table_belong_to_the_last_element()
    {
        using var app = new TempApp("""
            spin_manifest_version = 2
            [application]
            name = "x"
            [[trigger.http]]
            route = "/first"
            component = "first"
            [component.first]
            source = "a.wasm"
            [[trigger.http]]
            route = "/cgi"
            component = "second"
            [component.second]
            source = "a.wasm"
            [trigger.http.executor]
            type = "wagi"
            argv = "${SCRIPT_NAME} -v"
            [[trigger.http]]
            route = "/moved"
            [component.third]
            source = "a.wasm"
            [trigger.http.static_response]
            status_code = 301
            [trigger.http.static_response.headers]
            location = "/new"
            """, "a.wasm");

        var m = ManifestLoader.Load(app.ManifestPath);

        Assert.Equal(3, m.HttpTriggers.Count);
        Assert.Equal(ExecutorConfig.Default, m.HttpTriggers[0].Executor);
        Assert.Equal(new ExecutorConfig(ExecutorKind.Wagi, "wagi", "${SCRIPT_NAME} -v", ExecutorConfig.DefaultWagiEntrypoint), m.HttpTriggers[1].Executor);
        Assert.Null(m.HttpTriggers[1].StaticResponse);
        var moved = m.HttpTriggers[2].StaticResponse!;
        Assert.Equal(301, moved.StatusCode);
        Assert.Equal([new("location", "/new")], moved.Headers);
        Assert.Equal(["first", "second", "third"], m.Components.Keys.Order());
    }

    [Fact]
    public void A_dotted_key_in_a_later_element_is_not_confused_with_an_earlier_elements_sub_table()
    {
        // Valid TOML that Tomlyn's validator refused ("trigger.http.[1].executor is already defined").
        using var app = new TempApp(SpinAddLayout + """

            [trigger.http.executor]
            type = "wagi"
            [[trigger.http]]
            id = "third"
            route = "/third"
            component = "first"
            executor.type = "spin"
            """, "a.wasm");

        var m = ManifestLoader.Load(app.ManifestPath);

        Assert.Equal([ExecutorKind.Http, ExecutorKind.Wagi, ExecutorKind.Http], m.HttpTriggers.Select(t => t.Executor.Kind));
        Assert.Equal("spin", m.HttpTriggers[2].Executor.TypeName);
    }

    [Fact]
    public void A_bad_value_in_the_second_trigger_is_reported_at_its_own_line()
    {
        using var app = new TempApp(SpinAddLayout.Replace("route = \"/second/...\"", "route = 5"), "a.wasm");

        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));

        Assert.Equal("trigger.http[1].route", ex.KeyPath);
        Assert.Equal("5", ex.Value);
        Assert.Equal(new SourceLocation(10, 1), ex.Location);
        Assert.StartsWith($"{app.ManifestPath}:10:1: trigger.http[1].route = 5:", ex.Message);
    }

    [Fact]
    public void A_bad_key_in_a_sub_table_of_the_last_element_is_reported_at_its_line()
    {
        using var app = new TempApp(SpinAddLayout + "\n[trigger.http.executor]\n  type = \"fast\"\n", "a.wasm");

        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));

        Assert.Equal("trigger.http[1].executor.type", ex.KeyPath);
        Assert.Equal(new SourceLocation(15, 3), ex.Location);
    }

    [Theory]
    // A key given twice in a reopened element.
    [InlineData("[[trigger.http]]\nroute = \"/third\"\ncomponent = \"first\"\nroute = \"/again\"\n", 17)]
    // A table defined twice, with the array reopened in between.
    [InlineData("[[trigger.http]]\nroute = \"/third\"\ncomponent = \"first\"\n[component.first]\nsource = \"a.wasm\"\n", 17)]
    // The array of tables redefined as a plain table, or as a value.
    [InlineData("[trigger.http]\nroute = \"/third\"\n", 14)]
    [InlineData("[trigger]\nhttp = []\n", 15)]
    // A dotted key reaching into a table a header defined.
    [InlineData("[component]\nfirst.files = []\n", 15)]
    public void Redefinitions_after_interleaving_are_still_invalid_toml(string tail, int line)
    {
        using var app = new TempApp(SpinAddLayout + "\n" + tail, "a.wasm");

        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));

        Assert.Contains("invalid TOML", ex.Message);
        Assert.StartsWith(app.ManifestPath + ":", ex.Message);
        Assert.Equal(line, ex.Location?.Line);
    }

    [Fact]
    public void Interleaved_client_tls_entries_are_all_kept()
    {
        var c = LoadRuntimeConfig("""
            [[client_tls]]
            component_ids = ["a"]
            hosts = ["a.example.com"]
            [outbound_http]
            max_connections = 4
            [[client_tls]]
            component_ids = ["b"]
            hosts = ["b.example.com"]
            [key_value_store.default]
            type = "redis"
            url = "redis://localhost"
            [[client_tls]]
            component_ids = ["c"]
            hosts = ["c.example.com"]
            [key_value_store.other]
            type = "spin"
            """);

        Assert.Equal([["a"], ["b"], ["c"]], c.ClientTls.Select(t => t.ComponentIds));
        Assert.Equal([["a.example.com"], ["b.example.com"], ["c.example.com"]], c.ClientTls.Select(t => t.Hosts));
        Assert.Equal(4, c.OutboundHttp.MaxConnections);
        Assert.Equal(["default", "other"], c.KeyValueStores.Select(s => s.Label).Order());
    }

    [Fact]
    public void An_error_in_an_interleaved_client_tls_entry_names_its_index_and_line()
    {
        var e = Assert.Throws<ManifestException>(() => LoadRuntimeConfig("""
            [[client_tls]]
            component_ids = ["a"]
            hosts = ["a.example.com"]
            [outbound_http]
            max_connections = 4
            [[client_tls]]
            component_ids = ["b"]
            hosts = ["b.example.com"]
              ca_use_webpki_roots = "yes"
            """));

        Assert.Equal("client_tls[1].ca_use_webpki_roots", e.KeyPath);
        Assert.Equal(new SourceLocation(9, 3), e.Location);
        Assert.Contains("runtime-config.toml:9:3:", e.Message);
    }

    /// <summary>
    /// Where Tomlyn's deserializer was right (no reopened arrays) the model is the same: every kind of value, key and
    /// table, down to inline-ness.
    /// </summary>
    [Fact]
    public void Values_of_every_kind_read_as_tomlyn_reads_them()
    {
        const string Toml = """"
            [other]
            basic = "tab\there \u00e9 \"q\""
            literal = 'C:\path\'
            multi = """
            first \
              second"""
            multi_literal = '''
            raw \n line'''
            decimal = 1_000_000
            negative = -17
            hex = 0xDEAD_beef
            octal = 0o755
            binary = 0b1101
            float = 6.626e-34
            exponent = 5e+22
            underscored = 9_224_617.445_991
            infinity = inf
            negative_infinity = -inf
            not_a_number = nan
            yes = true
            no = false
            offset = 1979-05-27T07:32:00.999999-07:00
            utc = 1979-05-27 07:32:00Z
            local = 1979-05-27T07:32:00
            date = 1979-05-27
            time = 07:32:00.5
            nested = [[1, 2], ["a", 'b'], [], [{ x = 1 }, { y.z = 2 }]]
            inline = { a = 1, b.c = "d", e = { f = [true] } }
            site."google.com" = true
            "quoted key" = 1
            3.14 = "pi"
            [other.sub.table]
            key = "value"
            [[other.list]]
            n = 1
            [[other.list]]
            n = 2
            [other.list.child]
            m = 3
            """";

        var ours = LoadRuntimeConfig(Toml).OtherTables["other"];
        var tomlyn = (TomlTable)TomlSerializer.Deserialize<TomlTable>(Toml)!["other"];

        AssertSameModel(tomlyn, ours, "other");
        Assert.Equal(0xDEADBEEFL, ours["hex"]);
        Assert.True(double.IsNaN((double)ours["not_a_number"]));
        Assert.Equal("first second", ours["multi"]);
        Assert.Equal(2, ((TomlTableArray)ours["list"]).Count);
    }

    private static void AssertSameModel(object? expected, object? actual, string path)
    {
        Assert.True(expected?.GetType() == actual?.GetType(), $"{path}: {expected?.GetType().Name} vs {actual?.GetType().Name}");
        switch (expected)
        {
            case TomlTable e:
                var a = (TomlTable)actual!;
                Assert.True(e.Kind == a.Kind, $"{path}: {e.Kind} vs {a.Kind}");
                Assert.Equal(e.Keys, a.Keys);
                foreach (var key in e.Keys)
                    AssertSameModel(e[key], a[key], $"{path}.{key}");
                break;
            case TomlTableArray e:
                var ta = (TomlTableArray)actual!;
                Assert.Equal(e.Count, ta.Count);
                for (var i = 0; i < e.Count; i++)
                    AssertSameModel(e[i], ta[i], $"{path}[{i}]");
                break;
            case TomlArray e:
                var aa = (TomlArray)actual!;
                Assert.Equal(e.Count, aa.Count);
                for (var i = 0; i < e.Count; i++)
                    AssertSameModel(e[i], aa[i], $"{path}[{i}]");
                break;
            default:
                Assert.True(Equals(expected, actual), $"{path}: {expected} vs {actual}");
                break;
        }
    }
}
