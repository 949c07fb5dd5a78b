using Microsoft.Extensions.Logging.Abstractions;
using Spindle.App.Manifest;
using Spindle.App.Model;
using Spindle.App.Variables;
using Spindle.Outbound.AllowedHosts;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Manifest;

public sealed class ManifestLoaderTests
{
    private const string Header = "spin_manifest_version = 2\n[application]\nname = \"app\"\n";

    [Fact]
    public void Full_v2_manifest_maps_to_the_model()
    {
        using var app = new TempApp("""
            spin_manifest_version = 2
            [application]
            name = "shop"
            version = "1.0.0"
            description = "a shop"
            authors = ["Ada <ada@example.com>"]
            [application.trigger.http]
            base = "/"
            [variables]
            api_host = { default = "api.example.com" }
            api_key = { required = true, secret = true }
            [[trigger.http]]
            id = "web"
            route = "/cart/..."
            component = "cart"
            [[trigger.http]]
            route = { private = true }
            component = "internal"
            [[trigger.http]]
            route = "/cgi"
            component = { source = "cgi.wasm" }
            executor = { type = "wagi", argv = "${SCRIPT_NAME} -x ${ARGS}", entrypoint = "main" }
            [[trigger.http]]
            route = "/moved"
            static_response = { status_code = 301, headers = { location = "/new" }, body = "gone" }
            [component.cart]
            source = "cart.wasm"
            description = "the cart"
            files = ["static/*.txt", { source = "assets", destination = "/data" }]
            exclude_files = ["static/secret.txt"]
            environment = { MODE = "test" }
            allowed_outbound_hosts = ["https://{{ api_host }}", "http://*.spin.internal"]
            allowed_http_hosts = ["example.com"]
            variables = { endpoint = "https://{{ api_host }}/v1", key = "{{ api_key }}" }
            key_value_stores = ["default"]
            build = { command = "cargo build", watch = ["src/**/*.rs"] }
            [component.internal]
            source = "internal.wasm"
            """, "cart.wasm", "internal.wasm", "cgi.wasm");
        app.WriteFile("static/a.txt", "a");
        app.WriteFile("static/secret.txt", "s");
        app.WriteFile("assets/logo.svg", "<svg/>");

        var m = ManifestLoader.Load(app.Dir, new ManifestLoadOptions { EnvironmentOverrides = [new("MODE", "override"), new("EXTRA", "1")] });

        Assert.Equal(("shop", "1.0.0", "a shop"), (m.Name, m.Version, m.Description));
        Assert.Equal(["Ada <ada@example.com>"], m.Authors);
        Assert.Equal("/", m.HttpBase);
        Assert.Equal(2, m.ManifestVersion);
        Assert.Equal(new VariableDeclaration("api_key", null, true, true, null), m.Variables["api_key"]);
        Assert.Equal("api.example.com", m.Variables["api_host"].Default);

        Assert.Equal(4, m.HttpTriggers.Count);
        var web = m.HttpTriggers[0];
        Assert.Equal(("web", "/cart/...", "cart"), (web.Id, web.Route.Pattern, web.ComponentId));
        Assert.Equal(ExecutorKind.Http, web.Executor.Kind);
        Assert.True(m.HttpTriggers[1].Route.IsPrivate);
        Assert.Equal("internal-http-trigger", m.HttpTriggers[1].Id);
        var cgi = m.HttpTriggers[2];
        Assert.Equal("inline-component3", cgi.ComponentId);
        Assert.Equal(new ExecutorConfig(ExecutorKind.Wagi, "wagi", "${SCRIPT_NAME} -x ${ARGS}", "main"), cgi.Executor);
        Assert.True(m.Components.ContainsKey("inline-component3"));
        var moved = m.HttpTriggers[3];
        Assert.Null(moved.ComponentId);
        Assert.Equal(301, moved.StaticResponse!.StatusCode);
        Assert.Equal([new("location", "/new")], moved.StaticResponse.Headers);
        Assert.Equal("gone", moved.StaticResponse.Body);

        var cart = m.Components["cart"];
        Assert.Equal(Path.Combine(app.Dir, "cart.wasm"), cart.Source);
        Assert.Equal("the cart", cart.Description);
        Assert.Equal(
            [new FileMount(Path.Combine(app.Dir, "static", "a.txt"), "/static/a.txt", false),
             new FileMount(Path.Combine(app.Dir, "assets"), "/data", true)],
            cart.Files);
        Assert.Equal("override", cart.Environment["MODE"]);
        Assert.Equal("1", cart.Environment["EXTRA"]);
        Assert.Equal(["https://{{ api_host }}", "http://*.spin.internal"], cart.AllowedOutboundHosts);
        Assert.Equal(["example.com"], cart.AllowedHttpHosts);
        Assert.Equal(["default"], cart.KeyValueStores);
        Assert.Null(m.Components["internal"].AllowedOutboundHosts);
        Assert.Contains(m.Warnings, w => w.Contains("allowed_http_hosts is deprecated"));
    }

    [Fact]
    public void Exclusions_inside_a_mounted_folder_mount_it_file_by_file()
    {
        using var app = new TempApp(Header + """
            [component.c]
            source = "c.wasm"
            files = [{ source = "assets", destination = "/" }]
            exclude_files = ["assets/private/**"]
            """, "c.wasm");
        app.WriteFile("assets/index.html", "<html/>");
        app.WriteFile("assets/private/key.pem", "k");
        var files = ManifestLoader.Load(app.ManifestPath).Components["c"].Files;
        Assert.Equal([new FileMount(Path.Combine(app.Dir, "assets", "index.html"), "/index.html", false)], files);
    }

    public static TheoryData<string, string, string, string> Errors() => new()
    {
        // toml body, expected key path, expected value text, expected problem fragment
        { "[component.c]\nsource = \"c.wasm\"\nbogus = 1\n", "component.c.bogus", "1", "unknown key 'bogus'" },
        { "colour = \"red\"\n", "application.colour", "\"red\"", "unknown key 'colour'" },
        { "[[trigger.http]]\nroute = \"/\"\ncomponent = \"nope\"\n", "trigger.http[0].component", "\"nope\"", "no component with id 'nope'" },
        { "[component.c]\nsource = \"missing.wasm\"\n", "component.c.source", "\"missing.wasm\"", "file not found" },
        { "[component.c]\nsource = \"dir.wasm\"\n", "component.c.source", "\"dir.wasm\"", "cannot read" },
        { "[component.c]\nsource = \"https://example.com/c.wasm\"\n", "component.c.source", "\"https://example.com/c.wasm\"", "not supported" },
        { "[component.c]\nsource = { url = \"https://example.com/c.wasm\", digest = \"sha256:00\" }\n", "component.c.source", "url = \"https://example.com/c.wasm\"", "not supported" },
        { "[variables]\nregion = { secret = true }\n", "variables.region", "secret = true", "must have a default or be required" },
        { "[variables]\nregion = { default = \"eu\", required = true }\n", "variables.region", "default = \"eu\"", "both required and have a default" },
        { "[variables]\nRegion = { default = \"eu\" }\n", "variables.Region", "\"Region\"", "lower snake case" },
        { "[component.c]\nsource = \"c.wasm\"\nvariables = { x = \"{{ nope }}\" }\n", "component.c.variables.x", "\"{{ nope }}\"", "undefined variable 'nope'" },
        { "[[trigger.http]]\nroute = { private = false }\ncomponent = \"c\"\n[component.c]\nsource = \"c.wasm\"\n", "trigger.http[0].route", "private = false", "route must be a string pattern or '{ private = true }': 'c' has { private = false }" },
        { "[[trigger.http]]\nroute = \"/w\"\ncomponent = \"c\"\nexecutor = { type = \"wagi\", bogus = 1 }\n[component.c]\nsource = \"c.wasm\"\n", "trigger.http[0].executor.bogus", "1", "unknown key 'bogus'" },
        { "[[trigger.http]]\nroute = \"/w\"\ncomponent = \"c\"\nexecutor = { type = \"cgi\" }\n[component.c]\nsource = \"c.wasm\"\n", "trigger.http[0].executor.type", "\"cgi\"", "unknown executor type" },
        { "[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\nstatic_response = { status_code = 200 }\n[component.c]\nsource = \"c.wasm\"\n", "trigger.http[0]", "", "Triggers must specify either component or static_response - c has both" },
        { "[[trigger.http]]\nroute = \"/\"\n", "trigger.http[0]", "", "Triggers must specify either component or static_response - http-trigger1 has neither" },
        { "[[trigger.http]]\nroute = \"/\"\nstatic_response = { headers = { \"bad header\" = \"x\" } }\n", "trigger.http[0].static_response.headers.bad header", "\"bad header\"", "invalid HTTP header name" },
        { "[component.My_Comp]\nsource = \"c.wasm\"\n", "component.My_Comp", "\"My_Comp\"", "kebab-case" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Manifest_errors_name_file_key_and_value(string body, string key, string value, string problem)
    {
        using var app = new TempApp(Header + body, "c.wasm");
        Directory.CreateDirectory(Path.Combine(app.Dir, "dir.wasm"));
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));
        Assert.Equal(app.ManifestPath, ex.File);
        Assert.Equal(key, ex.KeyPath);
        Assert.StartsWith(app.ManifestPath + ":", ex.Message);
        Assert.Contains(key, ex.Message);
        Assert.Contains(value, ex.Message);
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public void Errors_carry_the_line_and_column_of_the_key()
    {
        using var app = new TempApp(Header + "[component.c]\nsource = \"c.wasm\"\n  environment = 7\n", "c.wasm");
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));
        Assert.Equal(new SourceLocation(6, 3), ex.Location);
        Assert.StartsWith($"{app.ManifestPath}:6:3: component.c.environment = 7:", ex.Message);
    }

    [Fact]
    public void Invalid_toml_reports_the_position()
    {
        using var app = new TempApp(Header + "[component.c]\nsource = \n");
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));
        Assert.Equal(5, ex.Location?.Line);
        Assert.Contains("invalid TOML", ex.Message);
    }

    [Fact]
    public void Duplicate_keys_are_invalid_toml()
    {
        using var app = new TempApp(Header + "[component.c]\nsource = \"c.wasm\"\nsource = \"c.wasm\"\n", "c.wasm");
        Assert.Contains("invalid TOML", Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath)).Message);
    }

    [Theory]
    [InlineData("spin_manifest_version = 3\n", "spin_manifest_version = 3")]
    [InlineData("[application]\nname = \"x\"\n", "spin_manifest_version: missing required key")]
    public void Unsupported_versions_are_refused(string toml, string fragment)
    {
        using var app = new TempApp(toml);
        Assert.Contains(fragment, Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath)).Message);
    }

    [Fact]
    public void Missing_manifest_is_a_clear_error()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "spin.toml");
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(path));
        Assert.StartsWith(path + ":", ex.Message);
        Assert.Contains("cannot read manifest", ex.Message);
    }

    [Theory]
    [InlineData("/:", "params must be named")]
    [InlineData("/*rest", "replace `*rest` with `*`")]
    [InlineData("/foo/*/bar", "'*' is only allowed as the last segment")]
    public void Bad_routes_stop_loading_with_the_route_key(string route, string problem)
    {
        using var app = new TempApp(Header + $"[[trigger.http]]\nroute = \"{route}\"\nstatic_response = {{ body = \"x\" }}\n");
        var m = ManifestLoader.Load(app.ManifestPath);
        var ex = Assert.Throws<ManifestException>(() => Prepare(m));
        Assert.Equal("trigger.http[0].route", ex.KeyPath);
        Assert.Contains($"trigger.http[0].route = \"{route}\"", ex.Message);
        Assert.Contains(problem, ex.Message);
        Assert.Equal(5, ex.Location?.Line);
    }

    [Fact]
    public void Duplicate_routes_warn_and_the_last_wins()
    {
        using var app = new TempApp(Header + """
            [[trigger.http]]
            route = "/a"
            static_response = { body = "first" }
            [[trigger.http]]
            route = "/a"
            static_response = { body = "second" }
            """);
        var spin = Prepare(ManifestLoader.Load(app.ManifestPath));
        Assert.Equal([new Spindle.Trigger.Http.Routing.DuplicateRoute("/a", "http-trigger1", "http-trigger2")], spin.Router.Duplicates);
        Assert.Equal("http-trigger2", spin.Router.Match("/a")!.ComponentId);
    }

    [Fact]
    public void Invalid_allowed_outbound_host_names_component_entry_and_line()
    {
        using var app = new TempApp(Header + "[component.c]\nsource = \"c.wasm\"\nallowed_outbound_hosts = [\"https://ok.example\", \"example.com:8080\"]\n", "c.wasm");
        var m = ManifestLoader.Load(app.ManifestPath);
        var ex = Assert.Throws<ManifestException>(() => ComponentOutboundPolicy.Build(m));
        Assert.Equal("component.c.allowed_outbound_hosts", ex.KeyPath);
        Assert.Equal(6, ex.Location?.Line);
        Assert.Contains("\"example.com:8080\" does not contain a scheme", ex.Message);
    }

    [Fact]
    public void Templated_outbound_host_is_checked_with_its_default_at_load()
    {
        using var app = new TempApp(Header + "[variables]\nhost = { default = \"bad host\" }\n[component.c]\nsource = \"c.wasm\"\nallowed_outbound_hosts = [\"https://{{ host }}\"]\n", "c.wasm");
        var ex = Assert.Throws<ManifestException>(() => ComponentOutboundPolicy.Build(ManifestLoader.Load(app.ManifestPath)));
        Assert.Contains("https://{{ host }}", ex.Message);
        Assert.Contains("invalid domain character", ex.Message);
    }

    [Fact]
    public void A_component_without_an_executor_is_a_clear_startup_error()
    {
        using var app = new TempApp(Header + "[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\nexecutor = { type = \"wagi\" }\n[component.c]\nsource = \"c.wasm\"\n", "c.wasm");
        var ex = Assert.Throws<ExecutorCreationException>(() => Prepare(ManifestLoader.Load(app.ManifestPath)));
        Assert.Contains("component 'c'", ex.Message);
        Assert.Contains("no executor for Wagi modules", ex.Message);
    }

    internal static SpinHttpApplication Prepare(SpinApp m, ExecutorFactoryRegistry? executors = null) =>
        SpinHttpApplication.Create(m, VariableResolver.Create(m, []), executors ?? new ExecutorFactoryRegistry(), NullLoggerFactory.Instance);
}

public sealed class OutboundTemplateLoadTests
{
    [Fact]
    public void Outbound_template_with_an_undeclared_variable_is_a_load_error()
    {
        using var app = new TempApp("spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.c]\nsource = \"c.wasm\"\nallowed_outbound_hosts = [\"https://{{ api_host }}\"]\n", "c.wasm");
        var ex = Assert.Throws<ManifestException>(() => ComponentOutboundPolicy.Build(ManifestLoader.Load(app.ManifestPath)));
        Assert.Equal("component.c.allowed_outbound_hosts", ex.KeyPath);
        Assert.Contains("\"https://{{ api_host }}\"", ex.Message);
        Assert.Contains("undefined variable 'api_host'", ex.Message);
    }
}
