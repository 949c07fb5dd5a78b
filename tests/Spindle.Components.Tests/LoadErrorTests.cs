using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Types;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>Load-time failures name what is wrong.</summary>
public class LoadErrorTests
{
    private const string Importer = """
        (component
          (import "test:host/api@0.2.3" (instance $host
            (export "greet" (func (param "name" string) (result u32)))))
          (core module $m (memory (export "memory") 1))
          (core instance $m (instantiate $m))
          (core func $g (canon lower (func $host "greet") (memory (core memory $m "memory")))))
        """;

    private static HostRegistry Host(string version, ValType resultType)
    {
        var iface = new HostInterface("test:host/api", version);
        iface.DefineFunc("greet", T.Func([("name", T.String)], resultType), (ctx, a) => 0u);
        return new HostRegistry().Add(iface);
    }

    [Fact]
    public void Core_module_is_not_a_component()
    {
        var e = Assert.Throws<ComponentLoadException>(() => Component.Load(Engine, Wat.ToWasm("(module)"), new HostRegistry()));
        Assert.Contains("not a component", e.Message);
        Assert.Contains("core module", e.Message);
        Assert.Contains("Wagi", e.Message);
    }

    [Fact]
    public void Garbage_is_not_a_component() =>
        Assert.Contains("not a component", Assert.Throws<ComponentLoadException>(() => Component.Load(Engine, "hello"u8, new HostRegistry())).Message);

    [Fact]
    public void Import_served_by_a_compatible_patch_version() => Load(Importer, Host("0.2.6", T.U32)).Dispose();

    [Fact]
    public void Missing_import_names_the_interface()
    {
        var e = Assert.Throws<ComponentLoadException>(() => Load(Importer, new HostRegistry()));
        Assert.Contains("test:host/api@0.2.3", e.Message);
        var e2 = Assert.Throws<ComponentLoadException>(() => Load(Importer, Host("0.3.0", T.U32)));
        Assert.Contains("not semver-compatible", e2.Message);
    }

    [Fact]
    public void Missing_function_names_interface_and_function()
    {
        var iface = new HostInterface("test:host/api", "0.2.3");
        var e = Assert.Throws<ComponentLoadException>(() => Load(Importer, new HostRegistry().Add(iface)));
        Assert.Contains("'greet'", e.Message);
        Assert.Contains("test:host/api@0.2.3", e.Message);
    }

    [Fact]
    public void Type_mismatch_names_interface_function_and_both_types()
    {
        var e = Assert.Throws<ComponentLoadException>(() => Load(Importer, Host("0.2.3", T.List(T.U8))));
        Assert.Contains("test:host/api@0.2.3", e.Message);
        Assert.Contains("'greet'", e.Message);
        Assert.Contains("func(name: string) -> u32", e.Message);
        Assert.Contains("func(name: string) -> list<u8>", e.Message);
    }

    [Fact]
    public void Async_canon_is_rejected()
    {
        // A component with one canon section holding opcode 0x08 (backpressure.set, component-model async).
        byte[] bytes = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x08, 0x02, 0x01, 0x08];
        var e = Assert.Throws<ComponentLoadException>(() => Component.Load(Engine, bytes, new HostRegistry()));
        Assert.Contains("WASI 0.3 / component-model async is not supported", e.Message);
        Assert.Contains("canon section", e.Message);
        Assert.Contains("offset 0xb", e.Message);
    }

    [Fact]
    public void Truncated_section_names_section_and_offset()
    {
        byte[] bytes = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x07, 0x05, 0x01];
        var e = Assert.Throws<ComponentLoadException>(() => Component.Load(Engine, bytes, new HostRegistry()));
        Assert.Contains("type section", e.Message);
    }

    [Fact]
    public void Realloc_with_a_wrong_signature_is_rejected_at_load()
    {
        const string wat = """
            (component
              (import "test:host/api@0.2.3" (instance $host
                (export "greet" (func (param "name" string) (result u32)))))
              (core module $m (memory (export "memory") 1) (func (export "realloc") (param i32) (result i32) (local.get 0)))
              (core instance $m (instantiate $m))
              (core func $g (canon lower (func $host "greet") (memory (core memory $m "memory")) (realloc (core func $m "realloc"))))
              (core module $main (import "h" "g" (func (param i32 i32) (result i32))))
              (core instance (instantiate $main (with "h" (instance (export "g" (func $g)))))))
            """;
        var e = Assert.Throws<ComponentLoadException>(() => Load(wat, Host("0.2.3", T.U32)));
        Assert.Contains("realloc", e.Message);
        Assert.Contains("expected (I32, I32, I32, I32) -> (I32)", e.Message);
    }
}
