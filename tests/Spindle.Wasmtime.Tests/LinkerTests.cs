namespace Spindle.Wasmtime.Tests;

public sealed class LinkerTests : IDisposable
{
    private const string Provider = """
        (module
          (memory (export "mem") 1)
          (func (export "double") (param i32) (result i32) local.get 0 i32.const 2 i32.mul))
        """;

    private const string Consumer = """
        (module
          (import "a" "double" (func $d (param i32) (result i32)))
          (import "a" "mem" (memory 1))
          (func (export "run") (param i32) (result i32)
            i32.const 16
            (call $d (local.get 0))
            i32.store
            i32.const 16
            i32.load))
        """;

    private readonly WasmEngine _engine = new();

    public void Dispose() => _engine.Dispose();

    [Fact]
    public async Task CloneDefinesAStoreExportForASecondModule()
    {
        using var provider = TestModules.Compile(_engine, Provider);
        using var consumer = TestModules.Compile(_engine, Consumer);
        using var linker = new WasmLinker(_engine);
        using var store = new WasmStore(_engine);
        var a = await linker.InstantiateAsync(store, provider);

        using var perRequest = linker.Clone();
        perRequest.Define(store, "a", "double", a.GetExport(store, "double")!.Value);
        perRequest.Define(store, "a", "mem", a.GetExport(store, "mem")!.Value);
        var b = await perRequest.InstantiateAsync(store, consumer);
        var r = await b.GetFunc(store, "run").CallAsync(store, [WasmValue.I32(21)], 1);
        Assert.Equal(42, r[0].AsI32());
        Assert.Equal(42, BitConverter.ToInt32(a.GetMemory(store, "mem")!.Value.GetSpan(store)[16..20]));

        Assert.NotNull(perRequest.Get(store, "a", "double"));
        Assert.Null(linker.Get(store, "a", "double")); // the clone did not change the original
    }

    [Fact]
    public async Task StoreOwnedHostFunctionsCanBeDefinedPerRequest()
    {
        using var consumer = TestModules.Compile(_engine, Consumer);
        using var provider = TestModules.Compile(_engine, Provider);
        using var linker = new WasmLinker(_engine);
        using var store = new WasmStore(_engine, 100);
        var a = await linker.InstantiateAsync(store, provider);
        using var perRequest = linker.Clone();
        var triple = WasmFunc.Create(store, TestModules.I32ToI32, (ref HostCaller c, ReadOnlySpan<WasmValue> args, Span<WasmValue> r) =>
            r[0] = WasmValue.I32(args[0].AsI32() * 3 + (int)c.Data!));
        perRequest.Define(store, "a", "double", WasmExtern.FromFunc(triple));
        perRequest.Define(store, "a", "mem", WasmExtern.FromMemory(a.GetMemory(store, "mem")!.Value));
        var b = await perRequest.InstantiateAsync(store, consumer);
        Assert.Equal(115, (await b.GetFunc(store, "run").CallAsync(store, WasmValue.I32(5)))[0].AsI32());
        Assert.Equal(TestModules.I32ToI32, triple.Type(store));
    }

    [Fact]
    public async Task DefineInstanceExposesEveryExport()
    {
        using var provider = TestModules.Compile(_engine, Provider);
        using var consumer = TestModules.Compile(_engine, Consumer);
        using var linker = new WasmLinker(_engine);
        using var store = new WasmStore(_engine);
        var a = await linker.InstantiateAsync(store, provider);
        linker.DefineInstance(store, "a", a);
        var b = await linker.InstantiateAsync(store, consumer);
        Assert.Equal(10, (await b.GetFunc(store, "run").CallAsync(store, [WasmValue.I32(5)], 1))[0].AsI32());
    }

    [Fact]
    public async Task MissingImportIsAnErrorNamingIt()
    {
        using var consumer = TestModules.Compile(_engine, Consumer);
        using var linker = new WasmLinker(_engine);
        using var store = new WasmStore(_engine);
        var e = await Assert.ThrowsAsync<WasmtimeException>(async () => await linker.InstantiateAsync(store, consumer));
        Assert.IsNotType<WasmTrapException>(e);
        Assert.Contains("double", e.Message);
        Assert.Throws<WasmtimeException>(() => linker.InstantiatePre(consumer));
    }

    [Fact]
    public async Task UnknownImportsCanBeDefinedAsTraps()
    {
        using var module = TestModules.Compile(_engine, TestModules.Main);
        using var linker = new WasmLinker(_engine);
        linker.DefineUnknownImportsAsTraps(module);
        using var store = new WasmStore(_engine);
        var instance = await linker.InstantiateAsync(store, module);
        await Assert.ThrowsAnyAsync<WasmtimeException>(async () =>
            await instance.GetFunc(store, "call_add3").CallAsync(store, [WasmValue.I32(1), WasmValue.I64(1), WasmValue.F64(1)], 1));
    }

    [Fact]
    public void ShadowingIsRejectedUnlessAllowed()
    {
        using var linker = TestModules.MainLinker(_engine);
        SyncHostCallback cb = (ref HostCaller c, ReadOnlySpan<WasmValue> a, Span<WasmValue> r) => r[0] = WasmValue.I32(0);
        Assert.Throws<WasmtimeException>(() => linker.DefineFunc("host", "slow", TestModules.I32ToI32, cb));
        linker.AllowShadowing = true;
        linker.DefineFunc("host", "slow", TestModules.I32ToI32, cb);
    }

    [Fact]
    public async Task InstancePreInstantiatesRepeatedly()
    {
        using var module = TestModules.Compile(_engine, TestModules.Main);
        using var linker = TestModules.MainLinker(_engine, slowMs: 1);
        using var pre = linker.InstantiatePre(module);
        for (int i = 0; i < 3; i++)
        {
            using var store = new WasmStore(_engine);
            var instance = await pre.InstantiateAsync(store);
            Assert.Equal(2 * i, (await instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(i)], 1))[0].AsI32());
        }
    }

    [Fact]
    public async Task InstancePreInstantiatesSynchronouslyUntilTheStoreRanAsyncWork()
    {
        using var provider = TestModules.Compile(_engine, Provider);
        using var linker = new WasmLinker(_engine);
        using var pre = linker.InstantiatePre(provider);
        using var store = new WasmStore(_engine);

        Assert.True(pre.TryInstantiate(store, out var first));
        var r = await first.GetFunc(store, "double").CallAsync(store, [WasmValue.I32(21)], 1);
        Assert.Equal(42, r[0].AsI32());

        // The call ran as a future: Wasmtime now requires the async entry points, so the sync path declines.
        Assert.False(pre.TryInstantiate(store, out _));
        var second = await pre.InstantiateAsync(store);
        Assert.Equal(8, (await second.GetFunc(store, "double").CallAsync(store, [WasmValue.I32(4)], 1))[0].AsI32());
    }

    [Fact]
    public async Task StoreLimiterCapsMemoryGrowth()
    {
        using var module = TestModules.Compile(_engine, TestModules.Main);
        using var linker = TestModules.MainLinker(_engine);
        using var store = new WasmStore(_engine);
        store.SetLimiter(memorySize: 2 * WasmMemory.PageSize);
        var instance = await linker.InstantiateAsync(store, module);
        var memory = instance.GetMemory(store)!.Value;
        memory.Grow(store, 1);
        Assert.Throws<WasmtimeException>(() => memory.Grow(store, 1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_engines_store_memory_limit_fails_memory_grow_in_the_guest_without_a_trap(bool pooling)
    {
        using var engine = new WasmEngine(new EngineOptions { Pooling = pooling, TotalCoreInstances = 4, StoreMemoryLimit = 4 * WasmMemory.PageSize });
        using var store = new WasmStore(engine);
        using var module = TestModules.Compile(engine, """
            (module
              (memory 1)
              (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
            """);
        using var linker = new WasmLinker(engine);
        var instance = await linker.InstantiateAsync(store, module);
        var grow = instance.GetFunc(store, "grow");
        Assert.Equal(1, (await grow.CallAsync(store, [WasmValue.I32(3)], 1))[0].AsI32()); // 1 → 4 pages: at the limit
        Assert.Equal(-1, (await grow.CallAsync(store, [WasmValue.I32(1)], 1))[0].AsI32()); // past it: fails, no trap
        Assert.Equal(4, (await grow.CallAsync(store, [WasmValue.I32(0)], 1))[0].AsI32()); // and the instance goes on
    }
}
