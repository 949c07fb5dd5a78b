using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Testing;
using Spindle.Wasmtime;

namespace Spindle.Components.Tests;

/// <summary>
/// <see cref="ComponentInstance.TryReset"/>: an instance put back into its just-instantiated state must answer
/// its next call exactly as a fresh instance does (memory, mutable globals, handles), and components whose code
/// can change state the host cannot restore must be refused at load.
/// </summary>
public class InstanceResetTests
{
    // Pooling with nothing kept resident: what MemorySnapshot needs (memories mapped afresh per slot).
    private static readonly WasmEngine ResetEngine = new(new EngineOptions
    {
        Pooling = true,
        TotalCoreInstances = 16,
        TotalMemories = 16,
        TotalTables = 16,
        MaxMemorySize = 64 << 20,
        CacheDirectory = Path.Combine(Path.GetTempPath(), "spindle-components-tests-cache"),
    });

    // count() bumps a private mutable global and a counter in memory (at 64 KiB + 8, starting at 5 from a data
    // segment: a page of the copy-on-write image) and returns global * 1000 + memory counter; grow() grows the
    // memory by a page.
    private const string Counter = """
        (component
          (core module $m
            (memory (export "memory") 2)
            (global $g (mut i32) (i32.const 0))
            (data (i32.const 65544) "\05")
            (func (export "count") (result i32)
              (global.set $g (i32.add (global.get $g) (i32.const 1)))
              (i32.store (i32.const 65544) (i32.add (i32.load (i32.const 65544)) (i32.const 1)))
              (i32.add (i32.mul (global.get $g) (i32.const 1000)) (i32.load (i32.const 65544))))
            (func (export "grow") (drop (memory.grow (i32.const 1)))))
          (core instance $i (instantiate $m))
          (func (export "count") (result u32) (canon lift (core func $i "count")))
          (func (export "grow") (canon lift (core func $i "grow"))))
        """;

    private static Component LoadCounter() => Component.LoadResettable(ResetEngine, Wat.ToWasm(Counter), new HostRegistry());

    [Fact]
    public async Task A_reset_instance_answers_like_a_fresh_one()
    {
        using var component = LoadCounter();
        Assert.Null(component.ResetBlocker);
        Assert.Equal(OperatingSystem.IsLinux(), MemorySnapshot.PageScanAvailable); // Linux 6.7+ (this project's machines)
        var count = component.FindExport("", "count")!;
        using var store = new WasmStore(ResetEngine);
        using var instance = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        Assert.True(instance.CaptureResetPoint());
        Assert.Equal(1006u, await instance.CallAsync(count));
        Assert.Equal(2007u, await instance.CallAsync(count)); // without a reset the state carries over
        for (var i = 0; i < 3; i++)
        {
            Assert.True(instance.TryReset());
            Assert.Null(store.Data);
            instance.Rebind("request data", CancellationToken.None);
            Assert.Equal(1006u, await instance.CallAsync(count));
        }
        Assert.Equal("request data", store.Data);
    }

    [Fact]
    public async Task An_instance_whose_memory_grew_cannot_be_reset()
    {
        using var component = LoadCounter();
        using var store = new WasmStore(ResetEngine);
        using var instance = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        Assert.True(instance.CaptureResetPoint());
        await instance.CallAsync(component.FindExport("", "grow")!);
        Assert.False(instance.TryReset());
    }

    [Fact]
    public async Task An_instance_whose_instantiation_created_handles_is_not_reset()
    {
        // The start function creates a handle: a new table could not give it back, so the instance serves once.
        const string wat = """
            (component
              (type $r (resource (rep i32)))
              (core func $new (canon resource.new $r))
              (core module $m
                (import "" "new" (func $new (param i32) (result i32)))
                (global $h (mut i32) (i32.const 0))
                (func $start (global.set $h (call $new (i32.const 42))))
                (start $start)
                (func (export "f") (result i32) (global.get $h)))
              (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
              (func (export "f") (result u32) (canon lift (core func $i "f"))))
            """;
        using var component = Component.LoadResettable(ResetEngine, Wat.ToWasm(wat), new HostRegistry());
        Assert.Null(component.ResetBlocker);
        using var store = new WasmStore(ResetEngine);
        using var instance = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        Assert.False(instance.CaptureResetPoint());
        Assert.Equal(1u, await instance.CallAsync(component.FindExport("", "f")!));
        Assert.False(instance.TryReset());
    }

    [Fact]
    public void A_component_loaded_the_usual_way_has_no_reset_point()
    {
        using var component = Component.Load(ResetEngine, Wat.ToWasm(Counter), new HostRegistry());
        Assert.NotNull(component.ResetBlocker);
    }

    [Theory]
    [InlineData("(func (table.set $t (i32.const 0) (ref.null func)))", "table.set")]
    [InlineData("(func (drop (table.grow $t (ref.null func) (i32.const 1))))", "table.grow")]
    [InlineData("(func (table.fill $t (i32.const 0) (ref.null func) (i32.const 1)))", "table.fill")]
    [InlineData("(func (table.copy $t $t (i32.const 0) (i32.const 0) (i32.const 1)))", "table.copy")]
    [InlineData("(elem $e func) (func (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 0)))", "table.init")]
    [InlineData("(elem $e func) (func (elem.drop $e))", "elem.drop")]
    [InlineData("(data $d \"x\") (func (data.drop $d))", "data.drop")]
    public void Code_that_changes_tables_or_segments_blocks_reset(string code, string blocker)
    {
        var wat = $"""
            (component
              (core module $m
                (memory 1)
                (table $t 2 funcref)
                {code}
                (func (export "ok")
                  (block (loop (br_if 1 (i32.const 1)) (br 0)))
                  (drop (f64.const 1.5)) (drop (v128.const i32x4 1 2 3 4)) (drop (i8x16.extract_lane_u 3 (v128.const i64x2 0 0)))))
              (core instance $i (instantiate $m))
              (func (export "ok") (canon lift (core func $i "ok"))))
            """;
        using var component = Component.LoadResettable(ResetEngine, Wat.ToWasm(wat), new HostRegistry());
        Assert.NotNull(component.ResetBlocker);
        Assert.Contains(blocker, component.ResetBlocker);
    }

    [Fact]
    public void Malformed_modules_are_refused_without_throwing()
    {
        var module = Wat.ToWasm("""
            (module
              (memory (export "m") 1) (global $g (mut i64) (i64.const -1)) (table 1 funcref)
              (func (export "f") (param i32) (result i32)
                (global.set $g (i64.extend_i32_u (block (result i32) (i32.load offset=4 (local.get 0)))))
                (call_indirect (param i32) (result i32) (i32.wrap_i64 (global.get $g)) (i32.const 0))))
            """);
        var ok = ResettableModule.TryCreate(module, out var reason);
        Assert.True(ok is not null, reason);
        Assert.Equal(["spindle:reset/global/0"], ok.GlobalExports);
        Assert.Equal(["spindle:reset/memory/0"], ok.MemoryExports);
        using (var compiled = WasmModule.Compile(ResetEngine, ok.Bytes))
            Assert.Contains(compiled.Exports, e => e.Name == "spindle:reset/global/0" && e.Kind == WasmExternKind.Global);

        // Every truncation and many single-byte corruptions: a reason or a module, never an exception.
        for (var length = 0; length < module.Length; length++)
            ResettableModule.TryCreate(module.AsSpan(0, length), out _);
        var random = new Random(42);
        for (var i = 0; i < 5000; i++)
        {
            var copy = (byte[])module.Clone();
            copy[8 + random.Next(copy.Length - 8)] = (byte)random.Next(256);
            ResettableModule.TryCreate(copy, out _);
        }
    }

    [Theory]
    [InlineData("js/hello.wasm")]
    [InlineData("spinjs/hello.wasm")]
    public async Task Real_js_components_can_be_reset_and_their_instances_share_one_snapshot(string fixture)
    {
        using var component = Component.Load(ResetEngine, File.ReadAllBytes(Paths.Fixture(fixture)), new HostRegistry(), progress: null, stubMissing: true, resettable: true);
        Assert.Null(component.ResetBlocker);
        var stores = new List<WasmStore>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var store = new WasmStore(ResetEngine);
                stores.Add(store);
                var instance = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
                Assert.True(instance.CaptureResetPoint());
                Assert.True(instance.TryReset());
            }
            Assert.Equal([1], component.SharedSnapshotCounts()); // one memory (the adapter uses the main one), one copy
        }
        finally
        {
            foreach (var s in stores) s.Dispose();
        }
    }
}
