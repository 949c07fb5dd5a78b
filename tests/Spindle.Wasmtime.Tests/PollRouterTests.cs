using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime.Tests;

/// <summary>
/// The poller that pooling engines hand polls to must lie above the pool's fiber stacks, wherever the kernel put
/// the pool (the invariant on <see cref="FiberGuard"/>). These tests pretend the pool lies above every thread
/// stack the kernel would hand out: only a stack we place ourselves is above it.
/// </summary>
public sealed class PollRouterTests
{
    /// <summary>A pretend fiber-region top just under the highest free place, above every ordinary thread's stack.</summary>
    private static nuint PoolTopAboveEveryThread()
    {
        var (start, end) = HighStackThread.FreeGapsFromTheTop().First(g => g.End - g.Start >= (8u << 20));
        return end - (4u << 20);
    }

    /// <summary>
    /// A router for a pool lying above every thread, made as engines make theirs: under the filler's gate, so that
    /// no engine being created by another test meanwhile holds the high gaps with its fillers.
    /// </summary>
    private static PollRouter RouterAboveEveryThread(out nuint top)
    {
        lock (AddressSpaceFiller.Gate)
        {
            top = PoolTopAboveEveryThread();
            return new PollRouter(top);
        }
    }

    [Fact]
    public async Task The_poller_stack_lies_above_a_pool_placed_above_every_thread()
    {
        using var router = RouterAboveEveryThread(out var top);
        Assert.True(FiberGuard.CurrentStackAddress() < top, "the test thread itself should lie below the pretend pool");
        Assert.True(router.PollerStackIsPlaced);
        var pollerStack = await router.RunOnPoller(FiberGuard.CurrentStackAddress);
        Assert.True(pollerStack > top, $"poller stack 0x{(ulong)pollerStack:x} is not above the pool top 0x{(ulong)top:x}");
        Assert.False(router.CurrentThreadIsSafe());
    }

    [Fact]
    public async Task Guests_whose_every_poll_is_routed_run_host_code_and_collections_safely()
    {
        // Every pool thread lies below the pretend pool, so every poll goes through the placed poller: a pthread
        // with a stack we mapped, adopted by the runtime. Host functions run on fibers polled from there, hold
        // managed objects across suspensions and force compacting collections; every result must come back right.
        using var engine = new WasmEngine(new EngineOptions { Pooling = true, TotalCoreInstances = 128, TotalMemories = 128, TotalTables = 128, MaxMemorySize = 1 << 20 });
        engine.Router?.Dispose();
        engine.Router = RouterAboveEveryThread(out _);
        using var module = TestModules.Compile(engine, TestModules.Main);
        using var linker = new WasmLinker(engine);
        int n = 0;
        linker.DefineFunc("host", "add3", TestModules.Add3Type, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            if (Interlocked.Increment(ref n) % 20 == 0) GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            results[0] = WasmValue.I64(args[0].AsI32() + new byte[1000].Length);
        });
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, async (caller, args, results) =>
        {
            var held = new List<byte[]>();
            for (int i = 0; i < 50; i++) held.Add(new byte[100]);
            await Task.Delay(1).ConfigureAwait(false);
            results[0] = WasmValue.I32(args[0].AsI32() * 2 + held.Count - 50);
        });
        using var pre = linker.InstantiatePre(module);
        var ok = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            await Task.Yield();
            using var store = new WasmStore(engine);
            var inst = await pre.InstantiateAsync(store);
            var a = await inst.GetFunc(store, "call_add3").CallAsync(store, WasmValue.I32(i), WasmValue.I64(0), WasmValue.F64(0));
            var b = await inst.GetFunc(store, "call_slow_twice").CallAsync(store, WasmValue.I32(i));
            return a[0].AsI64() == i + 1000 && b[0].AsI32() == i * 4;
        }));
        Assert.All(ok, Assert.True);
    }
}
