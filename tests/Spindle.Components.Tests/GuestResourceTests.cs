using Spindle.Components.Host;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>Resources defined by the component itself: resource.new/rep/drop and the destructor.</summary>
public class GuestResourceTests
{
    // $dtors is a core module whose table holds the destructor; the resource type is defined after it, and the
    // main module (instantiated later) uses new/rep/drop through the canon built-ins.
    private const string Wat = """
        (component
          (core module $d
            (global $drops (export "drops") (mut i32) (i32.const 0))
            (global $last (export "last") (mut i32) (i32.const 0))
            (func (export "dtor") (param i32)
              (global.set $drops (i32.add (global.get $drops) (i32.const 1)))
              (global.set $last (local.get 0))))
          (core instance $d (instantiate $d))
          (type $thing (resource (rep i32) (dtor (core func $d "dtor"))))
          (core func $new (canon resource.new $thing))
          (core func $rep (canon resource.rep $thing))
          (core func $drop (canon resource.drop $thing))
          (core module $main
            (import "r" "new" (func $new (param i32) (result i32)))
            (import "r" "rep" (func $rep (param i32) (result i32)))
            (import "r" "drop" (func $drop (param i32)))
            (import "d" "drops" (global $drops (mut i32)))
            (import "d" "last" (global $last (mut i32)))
            (func (export "run") (result i32) (local $a i32) (local $b i32) (local $sum i32)
              (local.set $a (call $new (i32.const 40)))
              (local.set $b (call $new (i32.const 2)))
              (local.set $sum (i32.add (call $rep (local.get $a)) (call $rep (local.get $b))))
              (call $drop (local.get $a))
              ;; sum of reps * 1000 + drops so far * 100 + rep seen by the last destructor
              (i32.add (i32.add (i32.mul (local.get $sum) (i32.const 1000)) (i32.mul (global.get $drops) (i32.const 100))) (global.get $last)))
            (func (export "rep-after-drop") (result i32) (local $a i32)
              (local.set $a (call $new (i32.const 7)))
              (call $drop (local.get $a))
              (call $rep (local.get $a))))
          (core instance $main (instantiate $main
            (with "r" (instance (export "new" (func $new)) (export "rep" (func $rep)) (export "drop" (func $drop))))
            (with "d" (instance $d))))
          (func $run (result u32) (canon lift (core func $main "run")))
          (func $bad (result u32) (canon lift (core func $main "rep-after-drop")))
          (instance $exp (export "run" (func $run)) (export "rep-after-drop" (func $bad)))
          (export "test:guest/things@0.2.0" (instance $exp)))
        """;

    [Fact]
    public async Task New_rep_drop_and_destructor()
    {
        using var component = Load(Wat, new HostRegistry());
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        Assert.Equal(42_000u + 100u + 40u, await inst.CallAsync(component.FindExport("test:guest/things@0.2.0", "run")!));
        var e = await Assert.ThrowsAsync<ComponentTrapException>(async () =>
            await inst.CallAsync(component.FindExport("test:guest/things@0.2.0", "rep-after-drop")!));
        Assert.Contains("already dropped", e.Message);
    }
}
