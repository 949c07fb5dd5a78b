namespace Spindle.Wasmtime.Tests;
/// <summary>Managed host code runs on Wasmtime fibers: forced collections there must be harmless.</summary>
public sealed class FiberGcTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ForcedCollectionsInHostCodeOnFibersAreSafe(bool pooling)
    {
        // Before fiber stacks were placed below thread stacks this crashed the process about one run in eight
        // (on-demand) and one in two (pooling): see FiberStackAllocator.
        using var engine = new WasmEngine(pooling
            ? new EngineOptions { Pooling = true, TotalCoreInstances = 600, TotalMemories = 600, TotalTables = 600, MaxMemorySize = 1 << 20 }
            : new EngineOptions());
        using var module = TestModules.Compile(engine, TestModules.Main);
        using var linker = new WasmLinker(engine);
        int n = 0;
        linker.DefineFunc("host", "add3", TestModules.Add3Type, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            if (Interlocked.Increment(ref n) % 50 == 0) GC.Collect(2, GCCollectionMode.Forced, blocking: true);
            var junk = new byte[1000];
            results[0] = WasmValue.I64(args[0].AsI32() + junk.Length);
        });
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, async (caller, args, results) =>
        {
            var list = new List<object>();
            for (int i = 0; i < 100; i++) list.Add(new byte[100]);
            await Task.Delay(1).ConfigureAwait(false);
            if (Interlocked.Increment(ref n) % 50 == 0) GC.Collect();
            results[0] = WasmValue.I32(args[0].AsI32() * 2);
        });
        using var pre = linker.InstantiatePre(module);
        var tasks = Enumerable.Range(0, 500).Select(async i =>
        {
            await Task.Yield();
            using var store = new WasmStore(engine);
            var inst = await pre.InstantiateAsync(store);
            var a = await inst.GetFunc(store, "call_add3").CallAsync(store, WasmValue.I32(i), WasmValue.I64(0), WasmValue.F64(0));
            var b = await inst.GetFunc(store, "call_slow_twice").CallAsync(store, WasmValue.I32(i));
            return a[0].AsI64() == i + 1000 && b[0].AsI32() == i * 4;
        }).ToArray();
        var ok = await Task.WhenAll(tasks);
        Assert.All(ok, Assert.True);
    }
}
