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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Compacting_collections_from_host_code_while_hundreds_of_guests_are_suspended_corrupt_nothing(bool pooling)
    {
        // 300 guests wait inside an async host call at once (their fibers suspended, their host state machines
        // holding managed objects); meanwhile 60 other guests force compacting collections from a host function
        // running on their own fibers. A reference the stack walker missed would be left pointing at moved memory:
        // a corrupted pattern, a wrong result or a crash.
        const int Suspended = 300, Collectors = 60;
        var ct = TestContext.Current.CancellationToken;
        using var engine = new WasmEngine(pooling
            ? new EngineOptions { Pooling = true, TotalCoreInstances = 400, TotalMemories = 400, TotalTables = 400, MaxMemorySize = 1 << 20 }
            : new EngineOptions());
        using var module = TestModules.Compile(engine, TestModules.Main);
        using var linker = new WasmLinker(engine);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = 0;
        var corrupted = 0;
        linker.DefineFunc("host", "add3", TestModules.Add3Type, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            var before = new string('x', 100 + args[0].AsI32());
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            results[0] = WasmValue.I64(before.Length);
        });
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, async (caller, args, results) =>
        {
            var n = args[0].AsI32();
            var pattern = new byte[4096];
            for (var i = 0; i < pattern.Length; i++) pattern[i] = (byte)(n * 31 + i);
            var label = $"guest {n}";
            var chain = Enumerable.Range(0, 50).Select(i => new int[] { n, i }).ToList();
            Interlocked.Increment(ref waiting);
            await release.Task.ConfigureAwait(false);
            var intact = label == $"guest {n}" && chain.Select((a, i) => a[0] == n && a[1] == i).All(b => b);
            for (var i = 0; i < pattern.Length && intact; i++) intact = pattern[i] == (byte)(n * 31 + i);
            if (!intact) Interlocked.Increment(ref corrupted);
            results[0] = WasmValue.I32(n * 2);
        });
        using var pre = linker.InstantiatePre(module);

        var guests = Enumerable.Range(0, Suspended).Select(async i =>
        {
            await Task.Yield();
            using var store = new WasmStore(engine);
            var instance = await pre.InstantiateAsync(store);
            var r = await instance.GetFunc(store, "call_slow_twice").CallAsync(store, WasmValue.I32(i));
            return r[0].AsI32() == i * 4;
        }).ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Volatile.Read(ref waiting) < Suspended && DateTime.UtcNow < deadline) await Task.Delay(10, ct);
        Assert.Equal(Suspended, Volatile.Read(ref waiting));

        var collectors = Enumerable.Range(0, Collectors).Select(async i =>
        {
            await Task.Yield();
            using var store = new WasmStore(engine);
            var instance = await pre.InstantiateAsync(store);
            var r = await instance.GetFunc(store, "call_add3").CallAsync(store, WasmValue.I32(i), WasmValue.I64(0), WasmValue.F64(0));
            return r[0].AsI64() == 100 + i;
        }).ToArray();
        Assert.All(await Task.WhenAll(collectors), Assert.True);
        Assert.Equal(Suspended, Volatile.Read(ref waiting)); // all still suspended through the collections

        release.SetResult();
        Assert.All(await Task.WhenAll(guests), Assert.True);
        Assert.Equal(0, corrupted);
    }
}
