using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>Nested components are inlined: outer aliases, imports satisfied by instantiate arguments, re-exported instances.</summary>
public class NestedComponentTests
{
    private const string Wat = $$"""
        (component $root
          (import "test:host/echo@0.2.3" (instance $host
            (export "echo" (func (param "x" string) (result string)))))
          (type $greeting (func (param "name" string) (result string)))
          {{LibcModule}}
          (core func $echo (canon lower (func $host "echo") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          ;; An inner component that itself contains core code: it takes the lowered echo through its instantiation.
          (component $inner
            (alias outer $root $greeting (type $g))
            (core module $m
              (import "env" "echo" (func $echo (param i32 i32 i32)))
              (import "env" "memory" (memory 1))
              (global $posts (mut i32) (i32.const 0))
              (func (export "greet") (param i32 i32) (result i32)
                (call $echo (local.get 0) (local.get 1) (i32.const 32)) (i32.const 32))
              (func (export "post") (param i32) (global.set $posts (i32.add (global.get $posts) (i32.const 1))))
              (func (export "posts") (result i32) (global.get $posts)))
            (import "host" (instance $h (export "echo" (func (param "x" string) (result string)))))
            (core module $libc2
              (memory (export "memory") 1)
              (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
            (core instance $l (instantiate $libc2))
            (core func $lowered (canon lower (func $h "echo") (memory (core memory $l "memory")) (realloc (core func $l "realloc"))))
            (core instance $i (instantiate $m (with "env" (instance (export "echo" (func $lowered)) (export "memory" (memory $l "memory"))))))
            (func $greet (type $g) (canon lift (core func $i "greet") (memory (core memory $l "memory"))
              (realloc (core func $l "realloc")) (post-return (core func $i "post"))))
            (func $posts (result u32) (canon lift (core func $i "posts")))
            (export "greet" (func $greet))
            (export "posts" (func $posts)))
          (instance $in (instantiate $inner (with "host" (instance $host))))
          ;; A shim that only re-exports, as wit-component emits.
          (component $shim
            (import "f" (func $f (param "name" string) (result string)))
            (import "p" (func $p (result u32)))
            (export "greet" (func $f))
            (export "posts" (func $p)))
          (instance $s (instantiate $shim (with "f" (func $in "greet")) (with "p" (func $in "posts"))))
          (export "test:guest/greeter@0.2.3" (instance $s)))
        """;

    [Fact]
    public async Task Inner_component_with_outer_alias_runs_and_post_return_is_called()
    {
        var iface = new HostInterface("test:host/echo", "0.2.3");
        iface.DefineFunc("echo", T.Func([("x", T.String)], T.String), (ctx, a) => "hi " + a[0]);
        using var component = Load(Wat, new HostRegistry().Add(iface));
        Assert.Equal(["test:guest/greeter@0.2.3"], component.Exports);
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var greet = component.FindExport("test:guest/greeter@0.2.3", "greet")!;
        Assert.Equal("func(name: string) -> string", TypePrinter.Print(greet.Type));
        Assert.Equal("hi bob", await inst.CallAsync(greet, "bob"));
        Assert.Equal("hi al", await inst.CallAsync(greet, "al"));
        Assert.Equal(2u, await inst.CallAsync(component.FindExport("test:guest/greeter@0.2.3", "posts")!));
    }

    [Fact]
    public async Task Concurrent_stores_replay_steps_that_import_earlier_instances()
    {
        // The inner core module imports the memory of an earlier instance: its linker is rented per store.
        var iface = new HostInterface("test:host/echo", "0.2.3");
        iface.DefineAsyncFunc("echo", T.Func([("x", T.String)], T.String), async (ctx, a) =>
        {
            await Task.Delay(5, ctx.Cancellation);
            return $"{ctx.StoreData}:{a[0]}";
        });
        using var component = Load(Wat, new HostRegistry().Add(iface));
        var greet = component.FindExport("test:guest/greeter@0.2.3", "greet")!;
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            using var store = new WasmStore(Engine);
            using var inst = await component.InstantiateAsync(store, i, TestContext.Current.CancellationToken);
            return (string)(await inst.CallAsync(greet, $"n{i}"))!;
        }));
        for (var i = 0; i < results.Length; i++) Assert.Equal($"{i}:n{i}", results[i]);
    }
}
