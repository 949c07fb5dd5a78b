using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>Bad values from the guest become traps with clear messages; the process and the engine carry on.</summary>
public class GuestFaultTests
{
    private static string Component(string coreBody) => $$"""
        (component
          (import "test:host/sink@0.2.0" (instance $host
            (export "text" (func (param "s" string)))
            (export "letter" (func (param "c" char)))))
          {{LibcModule}}
          (core func $text (canon lower (func $host "text") (memory (core memory $libc "memory"))))
          (core func $letter (canon lower (func $host "letter")))
          (core module $main
            (import "host" "text" (func $text (param i32 i32)))
            (import "host" "letter" (func $letter (param i32)))
            (import "libc" "memory" (memory 1))
            (data (i32.const 100) "ok\ff\fe")
            (func (export "run") {{coreBody}}))
          (core instance $main (instantiate $main (with "host" (instance (export "text" (func $text)) (export "letter" (func $letter))))
                                                  (with "libc" (instance $libc))))
          (func $run (canon lift (core func $main "run")))
          (instance $exp (export "run" (func $run)))
          (export "test:guest/run@0.2.0" (instance $exp)))
        """;

    private static async Task<ComponentTrapException> Trap(string coreBody, List<string> seen)
    {
        var iface = new HostInterface("test:host/sink", "0.2.0");
        iface.DefineFunc("text", T.Func([("s", T.String)]), (ctx, a) => { seen.Add((string)a[0]!); return null; });
        iface.DefineFunc("letter", T.Func([("c", T.Char)]), (ctx, a) => { seen.Add(a[0]!.ToString()!); return null; });
        using var component = Load(Component(coreBody), new HostRegistry().Add(iface));
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        return await Assert.ThrowsAsync<ComponentTrapException>(async () =>
            await inst.CallAsync(component.FindExport("test:guest/run@0.2.0", "run")!));
    }

    [Fact]
    public async Task Valid_string_reaches_the_host()
    {
        var seen = new List<string>();
        var e = await Trap("(call $text (i32.const 100) (i32.const 2)) unreachable", seen);
        Assert.Equal(["ok"], seen);
        Assert.Contains("unreachable", e.Message);
    }

    [Fact]
    public async Task Invalid_utf8_traps()
    {
        var seen = new List<string>();
        var e = await Trap("(call $text (i32.const 100) (i32.const 4))", seen);
        Assert.Contains("not valid UTF-8", e.Message);
        Assert.Empty(seen);
    }

    [Fact]
    public async Task Out_of_bounds_string_traps()
    {
        var e = await Trap("(call $text (i32.const -16) (i32.const 100))", []);
        Assert.Contains("out-of-bounds", e.Message);
    }

    [Theory]
    [InlineData(0xD800)]
    [InlineData(0x110000)]
    public async Task Invalid_char_traps(int value)
    {
        var e = await Trap($"(call $letter (i32.const {value}))", []);
        Assert.Contains("invalid char", e.Message);
    }

    [Fact]
    public async Task Host_exception_becomes_a_trap_with_its_message()
    {
        var iface = new HostInterface("test:host/sink", "0.2.0");
        iface.DefineFunc("text", T.Func([("s", T.String)]), (ctx, a) => throw new InvalidOperationException("host says no"));
        iface.DefineFunc("letter", T.Func([("c", T.Char)]), (ctx, a) => null);
        using var component = Load(Component("(call $text (i32.const 100) (i32.const 2))"), new HostRegistry().Add(iface));
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var e = await Assert.ThrowsAsync<ComponentTrapException>(async () => await inst.CallAsync(component.FindExport("test:guest/run@0.2.0", "run")!));
        Assert.Contains("host says no", e.Message);
    }

    [Fact]
    public async Task Oversized_lists_trap_before_the_host_copies_them()
    {
        const string wat = """
            (component
              (import "test:host/sink@0.2.0" (instance $host (export "bytes" (func (param "b" (list u8))))))
              (core module $mem (memory (export "memory") 5000))
              (core instance $mem (instantiate $mem))
              (core func $bytes (canon lower (func $host "bytes") (memory (core memory $mem "memory"))))
              (core module $main
                (import "h" "bytes" (func $bytes (param i32 i32)))
                (func (export "run") (call $bytes (i32.const 0) (i32.const 300000000))))
              (core instance $main (instantiate $main (with "h" (instance (export "bytes" (func $bytes))))))
              (func $run (canon lift (core func $main "run")))
              (instance $exp (export "run" (func $run)))
              (export "test:guest/run@0.2.0" (instance $exp)))
            """;
        var called = false;
        var iface = new HostInterface("test:host/sink", "0.2.0");
        iface.DefineFunc("bytes", T.Func([("b", T.List(T.U8))]), (ctx, a) => { called = true; return null; });
        using var component = Load(wat, new HostRegistry().Add(iface));
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var e = await Assert.ThrowsAsync<ComponentTrapException>(async () => await inst.CallAsync(component.FindExport("test:guest/run@0.2.0", "run")!));
        Assert.Contains("MiB of strings and lists in one call", e.Message);
        Assert.False(called);
    }
}
