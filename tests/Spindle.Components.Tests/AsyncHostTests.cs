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
}
