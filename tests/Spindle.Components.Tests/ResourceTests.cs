using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Types;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>Host resources through a real component: constructor, method on borrow, drop, own arguments, misuse traps.</summary>
public class ResourceTests
{
    private sealed class Counter(uint start) : IDisposable
    {
        public uint Value = start;
        public int Disposed;
        public void Dispose() => Disposed++;
    }

    private const string Wat = """
        (component $root
          (import "test:host/res@0.2.0" (instance $host
            (export "counter" (type $c (sub resource)))
            (export "[constructor]counter" (func (param "start" u32) (result (own $c))))
            (export "[method]counter.inc" (func (param "self" (borrow $c)) (param "by" u32) (result u32)))))
          (alias export $host "counter" (type $counter))
          (core func $new (canon lower (func $host "[constructor]counter")))
          (core func $inc (canon lower (func $host "[method]counter.inc")))
          (core func $drop (canon resource.drop $counter))
          (core module $main
            (import "host" "new" (func $new (param i32) (result i32)))
            (import "host" "inc" (func $inc (param i32 i32) (result i32)))
            (import "host" "drop" (func $drop (param i32)))
            (func (export "run") (result i32) (local $h i32)
              (local.set $h (call $new (i32.const 10)))
              (drop (call $inc (local.get $h) (i32.const 5)))
              (call $inc (local.get $h) (i32.const 1))
              (call $drop (local.get $h)))
            (func (export "take") (param i32) (result i32)
              (call $inc (local.get 0) (i32.const 100))
              (call $drop (local.get 0)))
            (func (export "borrow-ok") (param i32) (result i32)
              (call $inc (local.get 0) (i32.const 1))
              (call $drop (local.get 0)))
            (func (export "borrow-kept") (param i32) (result i32) (i32.const 0))
            (func (export "keep") (param i32) (result i32) (local.get 0))
            (func (export "use-after-drop") (result i32) (local $h i32)
              (local.set $h (call $new (i32.const 1)))
              (call $drop (local.get $h))
              (call $inc (local.get $h) (i32.const 1)))
            (func (export "bad-handle") (result i32) (call $inc (i32.const 99) (i32.const 1))))
          (core instance $main (instantiate $main (with "host" (instance
            (export "new" (func $new)) (export "inc" (func $inc)) (export "drop" (func $drop))))))
          (func $run (result u32) (canon lift (core func $main "run")))
          (func $take (param "c" (own $counter)) (result u32) (canon lift (core func $main "take")))
          (func $borrow-ok (param "c" (borrow $counter)) (result u32) (canon lift (core func $main "borrow-ok")))
          (func $borrow-kept (param "c" (borrow $counter)) (result u32) (canon lift (core func $main "borrow-kept")))
          (func $keep (param "c" (own $counter)) (result u32) (canon lift (core func $main "keep")))
          (func $use-after-drop (result u32) (canon lift (core func $main "use-after-drop")))
          (func $bad-handle (result u32) (canon lift (core func $main "bad-handle")))
          ;; A nested shim re-exports "take" with the resource type passed in, as real JS components do.
          (component $shim
            (import "import-type-counter" (type $c (sub resource)))
            (import "import-func-take" (func $f (param "c" (own $c)) (result u32)))
            (export "take" (func $f)))
          (instance $s (instantiate $shim
            (with "import-type-counter" (type $counter))
            (with "import-func-take" (func $take))))
          (export "test:guest/shim@0.2.0" (instance $s))
          (instance $exp
            (export "run" (func $run)) (export "borrow-ok" (func $borrow-ok)) (export "borrow-kept" (func $borrow-kept))
            (export "keep" (func $keep)) (export "use-after-drop" (func $use-after-drop)) (export "bad-handle" (func $bad-handle)))
          (export "test:guest/res@0.2.0" (instance $exp)))
        """;

    private readonly List<Counter> _created = [];

    private Component LoadComponent()
    {
        var iface = new HostInterface("test:host/res", "0.2.0");
        var counter = iface.DefineResource("counter");
        iface.DefineFunc("[constructor]counter", T.Func([("start", T.U32)], T.Own(counter)), (ctx, a) =>
        {
            var c = new Counter((uint)a[0]!);
            _created.Add(c);
            return c;
        });
        iface.DefineFunc("[method]counter.inc", T.Func([("self", T.Borrow(counter)), ("by", T.U32)], T.U32), (ctx, a) =>
        {
            var c = (Counter)a[0]!;
            c.Value += (uint)a[1]!;
            return c.Value;
        });
        return Load(Wat, new HostRegistry().Add(iface));
    }

    private static async Task<object?> Call(ComponentInstance inst, string iface, string func, params object?[] args) =>
        await inst.CallAsync(inst.Component.FindExport(iface, func) ?? throw new InvalidOperationException($"no export {func}"), args);

    [Fact]
    public async Task Constructor_method_and_drop_dispose_the_host_object()
    {
        using var component = LoadComponent();
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        Assert.Equal(16u, await Call(inst, "test:guest/res@0.2.0", "run"));
        var c = Assert.Single(_created);
        Assert.Equal(1, c.Disposed);
    }

    [Fact]
    public async Task Host_object_passed_as_own_through_a_nested_shim_is_owned_and_dropped_by_the_guest()
    {
        using var component = LoadComponent();
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var c = new Counter(1);
        Assert.Equal(101u, await Call(inst, "test:guest/shim@0.2.0", "take", c));
        Assert.Equal(1, c.Disposed);
    }

    [Fact]
    public async Task Borrowed_argument_dropped_by_the_guest_is_not_disposed()
    {
        using var component = LoadComponent();
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var c = new Counter(1);
        Assert.Equal(2u, await Call(inst, "test:guest/res@0.2.0", "borrow-ok", c));
        Assert.Equal(0, c.Disposed);
    }

    [Fact]
    public async Task Owned_handles_still_held_are_disposed_when_the_instance_ends()
    {
        using var component = LoadComponent();
        using var store = new WasmStore(Engine);
        var c = new Counter(1);
        using (var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken))
        {
            Assert.Equal(1u, await Call(inst, "test:guest/res@0.2.0", "keep", c));
            Assert.Equal(0, c.Disposed);
        }
        Assert.Equal(1, c.Disposed);
    }

    [Theory]
    [InlineData("use-after-drop", "already dropped")]
    [InlineData("bad-handle", "invalid handle index 99")]
    [InlineData("borrow-kept", "borrow handles still remain")]
    public async Task Misuse_traps_with_a_clear_message_and_other_stores_keep_working(string func, string expected)
    {
        using var component = LoadComponent();
        using (var store = new WasmStore(Engine))
        {
            using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
            object?[] args = func == "borrow-kept" ? [new Counter(0)] : [];
            var e = await Assert.ThrowsAsync<ComponentTrapException>(async () => await Call(inst, "test:guest/res@0.2.0", func, args));
            Assert.Contains(expected, e.ToString());
            if (func != "borrow-kept") Assert.Contains("test:host/res.counter", e.ToString());
        }
        using var fresh = new WasmStore(Engine);
        using var again = await component.InstantiateAsync(fresh, null, TestContext.Current.CancellationToken);
        Assert.Equal(16u, await Call(again, "test:guest/res@0.2.0", "run"));
    }
}
