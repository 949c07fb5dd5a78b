using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Testing;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>
/// Real JavaScript components (ComponentizeJS / StarlingMonkey, ~12–14 MB) built by scripts/build-fixtures.sh.
/// The reader must parse them fully, the planner flatten them (nested shim, outer aliases, 100+ lowered imports,
/// resource drops) and the replay must link every core module. Imports are served by trapping stubs generated
/// from the component's own import types, so this proves the plan and the flattened core signatures, not WASI.
/// </summary>
public class RealComponentTests
{
    // Built by scripts/build-fixtures.sh, which the test command runs first; a missing fixture fails the test.
    private static byte[] Fixture(string relative) => File.ReadAllBytes(Paths.Fixture(relative));

    [Theory]
    [InlineData("js/hello.wasm")]
    [InlineData("spinjs/hello.wasm")]
    public void Reader_parses_a_real_js_component(string fixture)
    {
        var bytes = Fixture(fixture);
        var summary = Component.Inspect(bytes);
        Assert.Contains(summary.Imports, i => i.StartsWith("wasi:io/streams@0.2.", StringComparison.Ordinal));
        Assert.Contains(summary.Imports, i => i.StartsWith("wasi:http/types@0.2.", StringComparison.Ordinal));
        Assert.Contains(summary.Exports, e => e.StartsWith("wasi:http/incoming-handler@0.2.", StringComparison.Ordinal));
        Assert.True(summary.CoreModules >= 4, $"{summary.CoreModules} core modules");
        Assert.True(summary.NestedComponents >= 1);
        Assert.True(summary.CanonDefinitions > 100, $"{summary.CanonDefinitions} canon definitions");
    }

    [Theory]
    [InlineData("js/hello.wasm")]
    [InlineData("spinjs/hello.wasm")]
    public async Task Real_js_component_plans_links_and_instantiates_against_stub_imports(string fixture)
    {
        var bytes = Fixture(fixture);
        var host = new HostRegistry();
        using var component = Component.Load(Engine, bytes, host, progress: null, stubMissing: true);
        Assert.True(component.Plan.Steps.Count >= 4, $"{component.Plan.Steps.Count} core instantiations");
        Assert.True(component.Plan.Lowered.Count > 90, $"{component.Plan.Lowered.Count} lowered imports");
        var handle = component.FindExport("wasi:http/incoming-handler@0.2.3", "handle");
        Assert.NotNull(handle);
        Assert.Equal("func(request: own<incoming-request>, response-out: own<response-outparam>)", Spindle.Components.Types.TypePrinter.Print(handle.Type));
        Assert.Contains(host.Interfaces, i => i.Name == "wasi:io/poll");
        using var store = new WasmStore(Engine);
        using var instance = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
    }
}
