using Spindle.App.Manifest;
using Spindle.App.Variables;
using Spindle.Components.Host;
using Spindle.Components.Values;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Trigger.Http.Spin;
using Ec = Spindle.Trigger.Http.Spin.SpinVariablesInterfaces.ErrorCase;

namespace Spindle.EndToEnd.Tests.Spin;

/// <summary>The lookup behind both Spin variables interfaces, on a real manifest and resolver.</summary>
public sealed class SpinVariablesInterfacesTests : IDisposable
{
    private readonly TestApp _app = Create();

    private static TestApp Create()
    {
        var app = new TestApp("""
        spin_manifest_version = 2
        [application]
        name = "vars"
        [variables]
        password = { required = true, secret = true }
        unset = { default = "x" }
        [[trigger.http]]
        route = "/..."
        component = "web"
        [component.web]
        source = "web.wasm"
        variables = { db_password = "{{ password }}", plain = "literal", both = "{{ unset }}-{{ password }}" }
        """);
        app.WriteFile("web.wasm", "(the manifest needs the file; nothing runs it)");
        return app;
    }

    public void Dispose() => _app.Dispose();

    private VariableResolver Resolver(string password = "hunter2") =>
        VariableResolver.Create(ManifestLoader.Load(_app.ManifestPath, new ManifestLoadOptions()),
            [new StaticVariableProvider([new("password", password)])]);

    private static (bool Ok, Ec? Case, string Text) Show(ResultValue r) =>
        r.IsOk ? (true, null, (string)r.Value!) : (false, (Ec)((VariantValue)r.Value!).Case, (string)((VariantValue)r.Value!).Payload!);

    [Fact]
    public void Values_are_the_component_templates_expanded()
    {
        var resolver = Resolver();
        Assert.Equal((true, null, "hunter2"), Show(SpinVariablesInterfaces.Get(resolver, "web", "db_password")));
        Assert.Equal((true, null, "literal"), Show(SpinVariablesInterfaces.Get(resolver, "web", "plain")));
        Assert.Equal((true, null, "x-hunter2"), Show(SpinVariablesInterfaces.Get(resolver, "web", "both")));
    }

    [Theory]
    [InlineData("invalid-name")]
    [InlineData("invalid!name")]
    [InlineData("4invalidname")]
    [InlineData("Upper")]
    [InlineData("")]
    [InlineData("trailing_")]
    [InlineData("double__underscore")]
    public void Names_that_are_not_lower_snake_case_are_invalid(string name)
    {
        var (ok, c, text) = Show(SpinVariablesInterfaces.Get(Resolver(), "web", name));
        Assert.False(ok);
        Assert.Equal(Ec.InvalidName, c);
        Assert.Contains($"'{name}'", text);
    }

    [Fact]
    public void Unknown_keys_and_other_components_are_undefined_and_no_resolver_is_other()
    {
        Assert.Equal(Ec.Undefined, Show(SpinVariablesInterfaces.Get(Resolver(), "web", "nope")).Case);
        // Application variables are reachable only through a component's own table.
        Assert.Equal(Ec.Undefined, Show(SpinVariablesInterfaces.Get(Resolver(), "web", "password")).Case);
        Assert.Equal(Ec.Undefined, Show(SpinVariablesInterfaces.Get(Resolver(), "other", "plain")).Case);
        Assert.Equal(Ec.Other, Show(SpinVariablesInterfaces.Get(null, "web", "plain")).Case);
    }

    [Fact]
    public void Both_interfaces_are_declared_with_get_and_the_error_variant()
    {
        var registry = SpinVariablesInterfaces.AddTo(new HostRegistry());
        foreach (var import in new[] { "fermyon:spin/variables@2.0.0", "spin:variables/variables@3.0.0" })
        {
            var iface = registry.Resolve(import);
            Assert.NotNull(iface);
            Assert.True(iface.Functions.ContainsKey("get"));
            Assert.Same(SpinVariablesInterfaces.ErrorType, iface.Types["error"]);
        }
        Assert.Null(registry.Resolve("fermyon:spin/variables@1.0.0"));
    }
}
