using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>Async host functions: the guest waits without a blocked thread, results needing realloc are lowered afterwards.</summary>
public class AsyncHostTests
{
    private const string Wat = $$"""
        (component
          (import "test:host/slow@0.2.0" (instance $host
            (export "fetch" (func (param "url" string) (result string)))))
          {{LibcModule}}
          (core func $fetch (canon lower (func $host "fetch") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core module $main
            (import "host" "fetch" (func $fetch (param i32 i32 i32)))
            (func (export "run") (param i32 i32) (result i32)
              (call $fetch (local.get 0) (local.get 1) (i32.const 16)) (i32.const 16)))
          (core instance $main (instantiate $main (with "host" (instance (export "fetch" (func $fetch))))))
          (func $run (param "url" string) (result string)
            (canon lift (core func $main "run") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (instance $exp (export "run" (func $run)))
          (export "test:guest/run@0.2.0" (instance $exp)))
        """;

    [Fact]
    public async Task Many_concurrent_stores_wait_on_an_async_host_function()
    {
        var iface = new HostInterface("test:host/slow", "0.2.0");
        iface.DefineAsyncFunc("fetch", T.Func([("url", T.String)], T.String), async (ctx, a) =>
        {
            await Task.Delay(20, ctx.Cancellation);
            return $"{ctx.StoreData}:{a[0]}:ü";
        });
        using var component = Load(Wat, new HostRegistry().Add(iface));
        var export = component.FindExport("test:guest/run@0.2.6", "run")!; // semver-compatible lookup
        var tasks = Enumerable.Range(0, 50).Select(async i =>
        {
            using var store = new WasmStore(Engine);
            using var inst = await component.InstantiateAsync(store, i, TestContext.Current.CancellationToken);
            return (string)(await inst.CallAsync(export, $"u{i}"))!;
        }).ToArray();
        var results = await Task.WhenAll(tasks);
        for (var i = 0; i < results.Length; i++) Assert.Equal($"{i}:u{i}:ü", results[i]);
    }

    [Fact]
    public async Task Async_host_function_reached_from_a_nested_realloc_traps_instead_of_suspending()
    {
        const string wat = """
            (component
              (import "test:host/slow@0.2.0" (instance $host
                (export "tick" (func (result u32)))
                (export "name" (func (result string)))))
              (core func $tick (canon lower (func $host "tick")))
              (core module $libc
                (import "h" "tick" (func $tick (result i32)))
                (memory (export "memory") 1)
                (func (export "realloc") (param i32 i32 i32 i32) (result i32) (drop (call $tick)) (i32.const 256)))
              (core instance $libc (instantiate $libc (with "h" (instance (export "tick" (func $tick))))))
              (core func $name (canon lower (func $host "name") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
              (core module $main
                (import "h" "name" (func $name (param i32)))
                (func (export "run") (call $name (i32.const 16))))
              (core instance $main (instantiate $main (with "h" (instance (export "name" (func $name))))))
              (func $run (canon lift (core func $main "run")))
              (instance $exp (export "run" (func $run)))
              (export "test:guest/run@0.2.0" (instance $exp)))
            """;
        var iface = new HostInterface("test:host/slow", "0.2.0");
        iface.DefineAsyncFunc("tick", T.Func([], T.U32), async (ctx, a) => { await Task.Yield(); return 1u; });
        iface.DefineFunc("name", T.Func([], T.String), (ctx, a) => "needs realloc");
        using var component = Load(wat, new HostRegistry().Add(iface));
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var e = await Assert.ThrowsAsync<ComponentTrapException>(async () => await inst.CallAsync(component.FindExport("test:guest/run@0.2.0", "run")!));
        Assert.Contains("nested guest call", e.Message);
    }
}
