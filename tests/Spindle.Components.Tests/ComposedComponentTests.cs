using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>
/// Two components composed in one (what <c>wac plug</c> produces): the app lowers a function the library lifts.
/// Each has its own memory and string encoding, so the string is transcoded across the call.
/// </summary>
public class ComposedComponentTests
{
    private const string Wat = $$"""
        (component
          (import "test:host/log@0.2.0" (instance $host (export "log" (func (param "msg" string)))))
          (component $lib
            (import "log" (func $log (param "msg" string)))
            (core module $mem
              (memory (export "memory") 1)
              (global $bump (mut i32) (i32.const 1024))
              (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
                (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1))) (i32.sub (i32.const 0) (local.get 2))))
                (global.set $bump (i32.add (local.get $p) (local.get 3))) (local.get $p)))
            (core instance $mem (instantiate $mem))
            (core func $log-lowered (canon lower (func $log) (memory (core memory $mem "memory")) string-encoding=utf16))
            ;; measure(s) = number of UTF-16 code units; also logs the string it received
            (core module $m
              (import "h" "log" (func $log (param i32 i32)))
              (func (export "measure") (param i32 i32) (result i32)
                (call $log (local.get 0) (local.get 1)) (local.get 1)))
            (core instance $mi (instantiate $m (with "h" (instance (export "log" (func $log-lowered))))))
            (func $measure (param "s" string) (result u32)
              (canon lift (core func $mi "measure") (memory (core memory $mem "memory")) (realloc (core func $mem "realloc")) string-encoding=utf16))
            (export "measure" (func $measure)))
          (component $app
            (import "measure" (func $measure (param "s" string) (result u32)))
            {{LibcModule}}
            (core func $measure-lowered (canon lower (func $measure) (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
            (core module $main
              (import "lib" "measure" (func $measure (param i32 i32) (result i32)))
              (func (export "run") (param i32 i32) (result i32) (call $measure (local.get 0) (local.get 1))))
            (core instance $main (instantiate $main (with "lib" (instance (export "measure" (func $measure-lowered))))))
            (func $run (param "s" string) (result u32)
              (canon lift (core func $main "run") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
            (export "run" (func $run)))
          (instance $l (instantiate $lib (with "log" (func $host "log"))))
          (instance $a (instantiate $app (with "measure" (func $l "measure"))))
          (export "test:guest/app@0.2.0" (instance $a)))
        """;

    [Fact]
    public async Task App_calls_library_across_memories_and_encodings()
    {
        var logged = new List<string>();
        var iface = new HostInterface("test:host/log", "0.2.0");
        iface.DefineFunc("log", T.Func([("msg", T.String)]), (ctx, a) => { logged.Add((string)a[0]!); return null; });
        using var component = Load(Wat, new HostRegistry().Add(iface));
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var run = component.FindExport("test:guest/app@0.2.0", "run")!;
        Assert.Equal(7u, await inst.CallAsync(run, "héllo😀"));
        Assert.Equal(["héllo😀"], logged);
    }
}
