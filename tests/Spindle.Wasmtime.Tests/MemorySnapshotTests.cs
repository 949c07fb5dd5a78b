namespace Spindle.Wasmtime.Tests;

/// <summary>
/// <see cref="MemorySnapshot"/>: a restore puts back every byte the guest changed (in the copy-on-write image,
/// beyond it, in pages written before the snapshot), and snapshots are shared only between memories whose bytes
/// are equal. Real pooling engine, real guest writes.
/// </summary>
public sealed class MemorySnapshotTests : IDisposable
{
    // 2 MiB memory whose first page comes from a data segment (a copy-on-write image); set(address, byte).
    private const string Wat = """
        (module
          (memory (export "memory") 32)
          (data (i32.const 0) "image")
          (func (export "set") (param $at i32) (param $value i32)
            (i32.store8 (local.get $at) (local.get $value))))
        """;

    private readonly WasmEngine _engine = new(new EngineOptions { Pooling = true, TotalCoreInstances = 8, TotalMemories = 8, TotalTables = 8 });
    private readonly WasmModule _module;
    private readonly WasmLinker _linker;

    public MemorySnapshotTests()
    {
        _module = TestModules.Compile(_engine, Wat);
        _linker = new WasmLinker(_engine);
    }

    private async Task<(WasmStore Store, WasmMemory Memory, WasmFunc Set)> Instantiate()
    {
        var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        return (store, instance.GetMemory(store)!.Value, instance.GetFunc(store, "set"));
    }

    private static async Task Set(WasmStore store, WasmFunc set, int at, int value) =>
        await set.CallAsync(store, WasmValue.I32(at), WasmValue.I32(value));

    [Fact]
    public async Task Restore_puts_back_every_byte_the_guest_changed()
    {
        var (store, memory, set) = await Instantiate();
        using var _ = store;
        await Set(store, set, 70_000, 7); // written before the snapshot: part of the state to return to
        var snapshot = MemorySnapshot.Capture(memory, store);
        var before = memory.GetSpan(store).ToArray();
        for (var round = 0; round < 3; round++)
        {
            foreach (var at in new[] { 1, 70_000, 70_001, 1_000_000, 2 * 1024 * 1024 - 1 })
                await Set(store, set, at, 100 + round);
            Assert.True(snapshot.TryRestore(memory, store));
            Assert.True(memory.GetSpan(store).SequenceEqual(before));
        }
        Assert.Equal(OperatingSystem.IsLinux(), MemorySnapshot.PageScanAvailable);
    }

    [Fact]
    public async Task A_memory_that_grew_is_not_restored()
    {
        var (store, memory, _) = await Instantiate();
        using var _s = store;
        var snapshot = MemorySnapshot.Capture(memory, store);
        memory.Grow(store, 1);
        Assert.False(snapshot.TryRestore(memory, store));
    }

    [Fact]
    public async Task Snapshots_are_shared_only_between_equal_memories()
    {
        var stores = new List<WasmStore>();
        try
        {
            async Task<MemorySnapshot> CaptureAfter(IEnumerable<MemorySnapshot> shared, params (int At, int Value)[] writes)
            {
                var (store, memory, set) = await Instantiate();
                stores.Add(store);
                foreach (var (at, value) in writes) await Set(store, set, at, value);
                return MemorySnapshot.Capture(memory, store, shared);
            }

            var first = await CaptureAfter([], (70_000, 1));
            Assert.Same(first, await CaptureAfter([first], (70_000, 1)));
            Assert.NotSame(first, await CaptureAfter([first], (70_000, 2)));  // same page written, other bytes
            Assert.NotSame(first, await CaptureAfter([first]));               // that page left as the image has it
            Assert.NotSame(first, await CaptureAfter([first], (70_000, 1), (3, 9))); // a write inside the image
            // Another page written with what it already held: other pages written, same bytes.
            Assert.Same(first, await CaptureAfter([first], (70_000, 1), (300_000, 0)));
        }
        finally
        {
            foreach (var s in stores) s.Dispose();
        }
    }

    public void Dispose()
    {
        _linker.Dispose();
        _module.Dispose();
        _engine.Dispose();
    }
}
