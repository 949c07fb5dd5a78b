using Spindle.App.Manifest;
using Spindle.App.Model;
using Spindle.App.Variables;
using Spindle.Outbound.AllowedHosts;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Manifest;

public sealed class V1AndVariablesTests
{
    [Fact]
    public void V1_manifest_is_converted_as_Spin_does()
    {
        using var app = new TempApp("""
            spin_manifest_version = "1"
            name = "legacy"
            version = "0.1.0"
            description = "old style"
            authors = ["Bob"]
            trigger = { type = "http", base = "/" }
            [variables]
            greeting = { default = "hello" }
            [[component]]
            id = "Hello_World"
            source = "hello.wasm"
            allowed_http_hosts = ["example.com"]
            environment = { A = "1" }
            config = { message = "{{ greeting }}, world" }
            [component.trigger]
            route = "/hello/..."
            [[component]]
            id = "cgi"
            source = "cgi.wasm"
            allowed_outbound_hosts = ["https://api.example.com"]
            [component.trigger]
            route = "/cgi"
            executor = { type = "wagi", argv = "${SCRIPT_NAME}" }
            """, "hello.wasm", "cgi.wasm");

        var m = ManifestLoader.Load(app.ManifestPath);

        Assert.Equal(1, m.ManifestVersion);
        Assert.Equal(("legacy", "0.1.0", "old style"), (m.Name, m.Version, m.Description));
        Assert.Equal(["Bob"], m.Authors);
        Assert.Equal(["hello-world", "cgi"], m.Components.Keys.Order(StringComparer.Ordinal).Reverse());
        Assert.Equal(2, m.HttpTriggers.Count);
        Assert.Equal(("hello-world", "/hello/..."), (m.HttpTriggers[0].ComponentId, m.HttpTriggers[0].Route.Pattern));
        Assert.Equal(new ExecutorConfig(ExecutorKind.Wagi, "wagi", "${SCRIPT_NAME}", "_start"), m.HttpTriggers[1].Executor);

        var hello = m.Components["hello-world"];
        Assert.Equal("{{ greeting }}, world", hello.Variables["message"]);
        Assert.Equal("1", hello.Environment["A"]);
        Assert.Null(hello.AllowedOutboundHosts);
        Assert.Equal(
            ["redis://*:*", "mysql://*:*", "postgres://*:*", "http://example.com", "https://example.com"],
            ComponentOutboundPolicy.EffectiveEntries(m.ManifestVersion, hello.AllowedOutboundHosts, hello.AllowedHttpHosts));
        var cgi = m.Components["cgi"];
        Assert.Equal(["https://api.example.com"],
            ComponentOutboundPolicy.EffectiveEntries(m.ManifestVersion, cgi.AllowedOutboundHosts, cgi.AllowedHttpHosts));

        var vars = VariableResolver.Create(m, []);
        Assert.Equal("hello, world", vars.GetComponentVariable("hello-world", "message"));
    }

    [Fact]
    public void V1_unknown_keys_and_other_trigger_types_are_errors()
    {
        using var a = new TempApp("spin_manifest_version = \"1\"\nname = \"x\"\ntrigger = { type = \"redis\" }\n");
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(a.ManifestPath));
        Assert.Equal("trigger.type", ex.KeyPath);
        Assert.Contains("\"redis\"", ex.Message);

        using var b = new TempApp("spin_manifest_version = \"1\"\nname = \"x\"\ntrigger = { type = \"http\" }\n[[component]]\nid = \"c\"\nsource = \"c.wasm\"\nwat = 1\n[component.trigger]\nroute = \"/\"\n", "c.wasm");
        ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(b.ManifestPath));
        Assert.Equal("component[0].wat", ex.KeyPath);
    }

    private static SpinApp AppWithVariables(TempApp app) => ManifestLoader.Load(app.ManifestPath);

    private const string VariablesManifest = """
        spin_manifest_version = 2
        [application]
        name = "vars"
        [variables]
        region = { default = "eu" }
        api_key = { required = true, secret = true }
        [component.c]
        source = "c.wasm"
        variables = { url = "https://{{ region }}.example.com/?k={{api_key}}", plain = "fixed" }
        """;

    [Fact]
    public void Providers_win_over_defaults_in_order_and_templates_expand()
    {
        using var app = new TempApp(VariablesManifest, "c.wasm");
        var m = AppWithVariables(app);
        var env = new Dictionary<string, string> { ["SPIN_VARIABLE_API_KEY"] = "from-env", ["SPIN_VARIABLE_REGION"] = "us" };
        var vars = VariableResolver.Create(m, [
            new StaticVariableProvider([new("region", "ap"), new("region", "ca")]),
            new EnvironmentVariableProvider(n => env.GetValueOrDefault(n)),
        ]);
        Assert.Equal("ca", vars.GetAppVariable("region"));      // --variable, last wins
        Assert.Equal("from-env", vars.GetAppVariable("api_key")); // SPIN_VARIABLE_API_KEY
        Assert.Equal("https://ca.example.com/?k=from-env", vars.GetComponentVariable("c", "url"));
        Assert.Equal("fixed", vars.GetComponentVariable("c", "plain"));
        Assert.Null(vars.GetComponentVariable("c", "nope"));
        Assert.True(vars.IsSecret("api_key"));
        Assert.True(vars.IsComponentVariableSecret("c", "url"));
        Assert.False(vars.IsComponentVariableSecret("c", "plain"));

        var defaults = VariableResolver.Create(m, [new StaticVariableProvider([new("api_key", "k")])]);
        Assert.Equal("eu", defaults.GetAppVariable("region"));
    }

    [Fact]
    public void A_required_variable_without_a_value_stops_startup_without_leaking_values()
    {
        using var app = new TempApp(VariablesManifest, "c.wasm");
        var m = AppWithVariables(app);
        var ex = Assert.Throws<VariableException>(() => VariableResolver.Create(m, [new EnvironmentVariableProvider(_ => null)]));
        Assert.Equal("api_key", ex.Name);
        Assert.Contains("variables.api_key", ex.Message);
        Assert.Contains("SPIN_VARIABLE_API_KEY", ex.Message);
        Assert.Contains(app.ManifestPath, ex.Message);
    }

    [Theory]
    [InlineData("{{ a }}-{{b}}", "x-y")]
    [InlineData("no refs", "no refs")]
    [InlineData("{{a}}{{a}}", "xx")]
    public void Templates_expand(string template, string expected)
    {
        var t = Template.Parse(template);
        Assert.Equal(expected, t.Expand(n => n == "a" ? "x" : "y"));
    }

    [Theory]
    [InlineData("{{ a", "unmatched '{{'")]
    [InlineData("{{ A }}", "invalid variable name")]
    public void Bad_templates_are_refused(string template, string fragment) =>
        Assert.Contains(fragment, Assert.Throws<TemplateException>(() => Template.Parse(template)).Message);
}

public sealed class V1PositionsAndSecretsTests
{
    [Fact]
    public void V1_component_errors_keep_their_line()
    {
        using var app = new TempApp("spin_manifest_version = \"1\"\nname = \"x\"\ntrigger = { type = \"http\" }\n[[component]]\nid = \"c\"\nsource = \"missing.wasm\"\n[component.trigger]\nroute = \"/\"\n");
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));
        Assert.Equal("component.c.source", ex.KeyPath);
        Assert.Equal(6, ex.Location?.Line);
    }

    [Fact]
    public void A_secret_default_never_appears_in_an_error()
    {
        using var app = new TempApp("spin_manifest_version = 2\n[application]\nname = \"x\"\n[variables]\ntoken = { default = \"hunter2\", required = true, secret = true }\n");
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));
        Assert.Equal("variables.token", ex.KeyPath);
        Assert.DoesNotContain("hunter2", ex.Message);
    }
}
