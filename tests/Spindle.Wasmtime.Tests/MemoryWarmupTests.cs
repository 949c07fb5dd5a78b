using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Tests;

/// <summary>
/// <see cref="MemoryWarmup"/> learns which pages an instance wrote and makes them private copies in the next
/// instance before its guest runs; reads <c>/proc/self/pagemap</c> to check (Linux).
/// </summary>
public sealed class MemoryWarmupTests : IDisposable
{
    // 2 MiB memory with a data segment (so it has a copy-on-write image); touch(first, count) writes one byte in
    // each of `count` 4 KiB pages starting at page `first`.
    private const string Wat = """
        (module
          (memory (export "memory") 32)
          (data (i32.const 0) "image")
          (func (export "touch") (param $first i32) (param $count i32)
            (loop $next
              (i32.store8 (i32.mul (local.get $first) (i32.const 4096)) (i32.const 1))
              (local.set $first (i32.add (local.get $first) (i32.const 1)))
              (local.set $count (i32.sub (local.get $count) (i32.const 1)))
              (br_if $next (local.get $count)))))
        """;

    private readonly WasmEngine _engine = new(new EngineOptions { Pooling = true, TotalCoreInstances = 8, TotalMemories = 8, TotalTables = 8 });
    private readonly WasmModule _module;
    private readonly WasmLinker _linker;

    public MemoryWarmupTests()
    {
        _module = TestModules.Compile(_engine, Wat);
        _linker = new WasmLinker(_engine);
    }

    [Fact]
    public async Task Pages_written_by_earlier_instances_are_private_before_the_next_guest_runs()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "pagemap is Linux-only");
        var warmup = new MemoryWarmup(learnCalls: 2);
        for (var i = 0; i < 2; i++)
        {
            using var store = new WasmStore(_engine);
            var instance = await _linker.InstantiateAsync(store, _module);
            await instance.GetFunc(store, "touch").CallAsync(store, [WasmValue.I32(100 + 20 * i), WasmValue.I32(8)], 0);
            warmup.Learn(instance.GetMemory(store)!.Value, store);
        }
        Assert.False(warmup.Learning);
        Assert.Equal(2, warmup.RangeCount); // pages 100–107 and 120–127

        using var fresh = new WasmStore(_engine);
        var next = await _linker.InstantiateAsync(fresh, _module);
        var memory = next.GetMemory(fresh)!.Value;
        Assert.False(IsPrivate(memory, fresh, 104));
        warmup.Prefault(memory, fresh);
        Assert.True(IsPrivate(memory, fresh, 104));
        Assert.True(IsPrivate(memory, fresh, 127));
        Assert.False(IsPrivate(memory, fresh, 140));
        // The guest still sees its image, not what the earlier instances wrote.
        Assert.Equal("image"u8.ToArray(), memory.GetSpan(fresh)[..5].ToArray());
        Assert.Equal(0, memory.GetSpan(fresh)[104 * 4096]);
    }

    [Fact]
    public async Task Small_memories_are_left_alone()
    {
        var warmup = new MemoryWarmup(learnCalls: 1, minimumSize: 4 << 20);
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        await instance.GetFunc(store, "touch").CallAsync(store, [WasmValue.I32(10), WasmValue.I32(4)], 0);
        warmup.Learn(instance.GetMemory(store)!.Value, store);
        Assert.Equal(0, warmup.RangeCount);
        // Learning ends as for any memory, so callers stop looking the memory up.
        Assert.False(warmup.Learning);
        Assert.False(warmup.HasWork);
    }

    // Present and not file-backed: the page is this process's private copy.
    private static bool IsPrivate(WasmMemory memory, WasmStore store, int page)
    {
        var address = (long)memory.DataPointer(store) + page * 4096L;
        using var pagemap = File.OpenHandle("/proc/self/pagemap");
        var entry = new byte[8];
        RandomAccess.Read(pagemap, entry, address / Environment.SystemPageSize * 8);
        var bits = MemoryMarshal.Read<ulong>(entry);
        return (bits & (1UL << 63)) != 0 && (bits & (1UL << 61)) == 0;
    }

    public void Dispose()
    {
        _linker.Dispose();
        _module.Dispose();
        _engine.Dispose();
    }
}
