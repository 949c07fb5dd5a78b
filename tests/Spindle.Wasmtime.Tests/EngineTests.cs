namespace Spindle.Wasmtime.Tests;

public sealed class EngineTests
{
    private static EngineOptions SmallPool(uint instances) => new()
    {
        Pooling = true,
        TotalCoreInstances = instances,
        TotalMemories = instances,
        TotalTables = instances,
        TotalStacks = instances + 2,
        MaxMemorySize = 1 << 20,
    };

    [Fact]
    public async Task PoolExhaustionIsAnErrorAndSlotsAreReused()
    {
        using var engine = new WasmEngine(SmallPool(2));
        using var module = TestModules.Compile(engine, TestModules.Main);
        using var linker = TestModules.MainLinker(engine);
        var s1 = new WasmStore(engine);
        using var s2 = new WasmStore(engine);
        using var s3 = new WasmStore(engine);
        await linker.InstantiateAsync(s1, module);
        await linker.InstantiateAsync(s2, module);
        var e = await Assert.ThrowsAsync<WasmtimeException>(async () => await linker.InstantiateAsync(s3, module));
        Assert.Contains("instance", e.Message, StringComparison.OrdinalIgnoreCase);

        s1.Dispose();
        using var s4 = new WasmStore(engine);
        var instance = await linker.InstantiateAsync(s4, module);
        Assert.Equal(4, (await instance.GetFunc(s4, "call_slow").CallAsync(s4, [WasmValue.I32(2)], 1))[0].AsI32());
    }

    [Fact]
    public async Task TwoEnginesWorkSideBySide()
    {
        using var plain = new WasmEngine();
        using var pooled = new WasmEngine(SmallPool(8));
        Assert.NotEqual(plain.Fingerprint, pooled.Fingerprint);

        async Task<int> Run(WasmEngine engine, int x)
        {
            using var module = TestModules.Compile(engine, TestModules.Main);
            using var linker = TestModules.MainLinker(engine, slowMs: 5);
            using var store = new WasmStore(engine);
            var instance = await linker.InstantiateAsync(store, module);
            return (await instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(x)], 1))[0].AsI32();
        }

        var results = await Task.WhenAll(Run(plain, 1), Run(pooled, 2), Run(plain, 3), Run(pooled, 4));
        Assert.Equal([2, 4, 6, 8], results);

        plain.Dispose();
        Assert.Equal(10, await Run(pooled, 5));
    }

    [Fact]
    public async Task ManyEnginesComeAndGo()
    {
        for (int i = 0; i < 40; i++)
        {
            using var engine = new WasmEngine();
            using var module = TestModules.Compile(engine, TestModules.SlowOnly);
            using var linker = TestModules.MainLinker(engine, slowMs: 0);
            using var store = new WasmStore(engine);
            var instance = await linker.InstantiateAsync(store, module);
            Assert.Equal(2 * i, (await instance.GetFunc(store, "run").CallAsync(store, WasmValue.I32(i)))[0].AsI32());
        }
    }

    [Fact]
    public void ExecutionTicksCoverTheDuration()
    {
        using var engine = new WasmEngine(new EngineOptions { EpochTickInterval = TimeSpan.FromMilliseconds(10) });
        Assert.Equal(11UL, engine.ExecutionTicksFor(TimeSpan.FromMilliseconds(100)));
        Assert.Equal(2UL, engine.ExecutionTicksFor(TimeSpan.FromMilliseconds(1)));
        Assert.Contains("wasmtime=50.0.1", engine.Fingerprint);
    }

    [Fact]
    public void InvalidStackSettingsAreRejected() =>
        Assert.Throws<ArgumentException>(() => new WasmEngine(new EngineOptions { MaxWasmStack = 4 << 20, AsyncStackSize = 2 << 20 }));
}
