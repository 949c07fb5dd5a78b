using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Types;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>
/// Host imports that share canon options share a call context per instance. A host call whose result lowering
/// runs realloc, which calls another host import with the same options, must still see its own call state; so
/// must an async import whose context is held across its await.
/// </summary>
public class ReentrantHostCallTests
{
    // realloc logs through a shim table (the way wit-component breaks the cycle): "log" is lowered with libc's own
    // memory and realloc, so it has the same options as "name" and "fetch", whose string results need realloc.
    private const string Wat = """
        (component
          (import "test:host/reentry@0.2.0" (instance $host
            (export "log" (func (param "msg" string)))
            (export "name" (func (result string)))
            (export "fetch" (func (result string)))
            (export "counter" (type $c (sub resource)))
            (export "[constructor]counter" (func (result (own $c))))
            (export "[method]counter.label" (func (param "self" (borrow $c)) (result string)))))
          (alias export $host "counter" (type $counter))
          (core func $drop (canon resource.drop $counter))
          (core module $shim
            (type $log (func (param i32 i32)))
            (table (export "t") 1 funcref)
            (func (export "log") (param i32 i32) (call_indirect (type $log) (local.get 0) (local.get 1) (i32.const 0))))
          (core instance $shim (instantiate $shim))
          (core module $libc
            (import "h" "log" (func $log (param i32 i32)))
            (import "h" "drop" (func $drop (param i32)))
            (memory (export "memory") 1)
            ;; a handle realloc drops after logging: one lent to the host call whose result it allocates for
            (global (export "victim") (mut i32) (i32.const 0))
            (data (i32.const 100) "in realloc")
            (global $bump (mut i32) (i32.const 4096))
            (func (export "realloc") (param i32 i32 i32 i32) (result i32)
              (local $p i32)
              (call $log (i32.const 100) (i32.const 10))
              (if (global.get 0) (then (call $drop (global.get 0)) (global.set 0 (i32.const 0))))
              (local.set $p (global.get $bump))
              (global.set $bump (i32.add (local.get $p) (i32.and (i32.add (local.get 3) (i32.const 7)) (i32.const -8))))
              (local.get $p)))
          (core instance $libc (instantiate $libc (with "h" (instance (export "log" (func $shim "log")) (export "drop" (func $drop))))))
          (core func $log (canon lower (func $host "log") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core func $name (canon lower (func $host "name") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core func $fetch (canon lower (func $host "fetch") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core func $new (canon lower (func $host "[constructor]counter")))
          (core func $label (canon lower (func $host "[method]counter.label") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core module $fixup
            (import "" "t" (table 1 funcref))
            (import "" "log" (func (param i32 i32)))
            (elem (i32.const 0) func 0))
          (core instance (instantiate $fixup (with "" (instance (export "t" (table $shim "t")) (export "log" (func $log))))))
          (core module $main
            (import "h" "name" (func $name (param i32)))
            (import "h" "fetch" (func $fetch (param i32)))
            (import "h" "new" (func $new (result i32)))
            (import "h" "label" (func $label (param i32 i32)))
            (import "libc" "victim" (global $victim (mut i32)))
            (func (export "run") (result i32)
              (call $name (i32.const 16)) (call $fetch (i32.const 24)) (call $name (i32.const 32)) (i32.const 16))
            (func (export "drop-while-lent") (result i32) (local $h i32)
              (local.set $h (call $new))
              (global.set $victim (local.get $h))
              (call $label (local.get $h) (i32.const 40)) (i32.const 40)))
          (core instance $main (instantiate $main
            (with "h" (instance (export "name" (func $name)) (export "fetch" (func $fetch)) (export "new" (func $new)) (export "label" (func $label))))
            (with "libc" (instance (export "victim" (global $libc "victim"))))))
          (func $run (result (tuple string string string))
            (canon lift (core func $main "run") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (func $drop-while-lent (result string)
            (canon lift (core func $main "drop-while-lent") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (instance $exp (export "run" (func $run)) (export "drop-while-lent" (func $drop-while-lent)))
          (export "test:guest/run@0.2.0" (instance $exp)))
        """;

    private sealed class Counter;

    private readonly List<string> _logged = [];

    private Component LoadComponent()
    {
        var iface = new HostInterface("test:host/reentry", "0.2.0");
        iface.DefineFunc("log", T.Func([("msg", T.String)], null), (ctx, a) => { _logged.Add((string)a[0]!); return null; });
        iface.DefineFunc("name", T.Func([], T.String), (ctx, a) => "sync name");
        iface.DefineAsyncFunc("fetch", T.Func([], T.String), async (ctx, a) => { await Task.Yield(); return "async fetch"; });
        var counter = iface.DefineResource("counter");
        iface.DefineFunc("[constructor]counter", T.Func([], T.Own(counter)), (ctx, a) => new Counter());
        iface.DefineFunc("[method]counter.label", T.Func([("self", T.Borrow(counter))], T.String), (ctx, a) => "label");
        return Load(Wat, new HostRegistry().Add(iface));
    }

    [Fact]
    public async Task Host_import_called_from_realloc_of_another_host_call_with_the_same_options()
    {
        using var component = LoadComponent();
        var export = component.FindExport("test:guest/run@0.2.0", "run")!;
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        for (var call = 1; call <= 2; call++)
        {
            var result = (object?[])(await inst.CallAsync(export))!;
            Assert.Equal(["sync name", "async fetch", "sync name"], result);
            Assert.Equal(Enumerable.Repeat("in realloc", 3 * call), _logged);
        }
    }

    [Fact]
    public async Task Nested_host_call_does_not_end_the_borrows_of_the_call_it_interrupts()
    {
        using var component = LoadComponent();
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var e = await Assert.ThrowsAsync<ComponentTrapException>(async () =>
            await inst.CallAsync(component.FindExport("test:guest/run@0.2.0", "drop-while-lent")!));
        Assert.Contains("while it is borrowed", e.Message);
        Assert.Equal(["in realloc"], _logged);
    }
}
