namespace Spindle.Wasmtime.Tests;

/// <summary>Host functions calling back into the guest (what canonical-ABI lowering does with cabi_realloc).</summary>
public sealed class ReentrancyTests : IDisposable
{
    private const string Guest = """
        (module
          (import "host" "fill_sync" (func $fill_sync (result i32)))
          (import "host" "fill_async" (func $fill_async (result i32)))
          (memory (export "memory") 1)
          (global $bump (mut i32) (i32.const 1024))
          (func (export "alloc") (param $n i32) (result i32) (local $p i32)
            global.get $bump local.set $p
            global.get $bump local.get $n i32.add global.set $bump
            local.get $p)
          (func (export "run_sync") (result i32) call $fill_sync i32.load8_u)
          (func (export "run_async") (result i32) call $fill_async i32.load8_u)
          (func (export "run_async_twice") (result i32) call $fill_async i32.load8_u call $fill_async i32.load8_u i32.add))
        """;

    private readonly WasmEngine _engine = new();

    public void Dispose() => _engine.Dispose();

    [Fact]
    public Task HostFunctionsCanCallTheGuestsAllocator() => Run(_engine);

    [Fact]
    public async Task NestedCallsFitInTheDefaultPoolOfStacks()
    {
        // One instance slot, default stacks (2 per instance): the nested call needs the second stack.
        using var engine = new WasmEngine(new EngineOptions { Pooling = true, TotalCoreInstances = 1, TotalMemories = 1, TotalTables = 1, MaxMemorySize = 1 << 20 });
        await Run(engine);
    }

    [Fact]
    public async Task AsyncHostFunctionsLowerResultsOnTheFiberInOnCompleted()
    {
        using var linker = new WasmLinker(_engine);
        var noneToI32 = WasmFuncType.Of([], [WasmValueKind.I32]);
        linker.DefineFunc("host", "fill_sync", noneToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) => { });
        linker.DefineAsyncFunc("host", "fill_async", noneToI32, async (caller, args, results) =>
        {
            await Task.Delay(1).ConfigureAwait(false);
            byte value = 40;
            caller.OnCompleted = (ref HostCaller c, Span<WasmValue> r) =>
            {
                var alloc = c.GetExport("alloc")!.Value.Func!.Value;
                Span<WasmValue> p = stackalloc WasmValue[1];
                c.Call(alloc, [WasmValue.I32(8)], p);
                c.GetMemory()!.Value.GetSpan(c.Context, (uint)p[0].AsI32(), 1)[0] = value;
                r[0] = p[0];
            };
        });
        using var module = TestModules.Compile(_engine, Guest);
        using var store = new WasmStore(_engine);
        var instance = await linker.InstantiateAsync(store, module);
        Assert.Equal(80, (await instance.GetFunc(store, "run_async_twice").CallAsync(store))[0].AsI32());
    }

    [Fact]
    public async Task CheckedNestedCallsRejectWrongSignatures()
    {
        using var linker = new WasmLinker(_engine);
        var noneToI32 = WasmFuncType.Of([], [WasmValueKind.I32]);
        Exception? seen = null;
        linker.DefineFunc("host", "fill_sync", noneToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            var alloc = caller.GetExport("alloc")!.Value.Func!.Value;
            try { caller.Call(alloc, [WasmValue.I64(8)], new WasmValue[1]); }
            catch (ArgumentException e) { seen = e; }
            results[0] = WasmValue.I32(0);
        });
        linker.DefineAsyncFunc("host", "fill_async", noneToI32, (caller, args, results) => ValueTask.CompletedTask);
        using var module = TestModules.Compile(_engine, Guest);
        using var store = new WasmStore(_engine);
        var instance = await linker.InstantiateAsync(store, module);
        await instance.GetFunc(store, "run_sync").CallAsync(store);
        Assert.Contains("argument 0 is I64", seen?.Message);
    }

    [Fact]
    public async Task UncheckedNestedCallsOffTheFiberAreRefused()
    {
        using var linker = new WasmLinker(_engine);
        var noneToI32 = WasmFuncType.Of([], [WasmValueKind.I32]);
        Exception? seen = null;
        linker.DefineFunc("host", "fill_sync", noneToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) => results[0] = WasmValue.I32(0));
        linker.DefineAsyncFunc("host", "fill_async", noneToI32, async (caller, args, results) =>
        {
            await Task.Delay(1).ConfigureAwait(false);
            var alloc = caller.GetExport("alloc")!.Value.Func!.Value;
            try { NestedCall.Call(caller.Context, alloc, [WasmValue.I32(4)], new WasmValue[1]); }
            catch (InvalidOperationException e) { seen = e; }
            results[0] = WasmValue.I32(0);
        });
        using var module = TestModules.Compile(_engine, Guest);
        using var store = new WasmStore(_engine);
        var instance = await linker.InstantiateAsync(store, module);
        await instance.GetFunc(store, "run_async").CallAsync(store);
        Assert.Contains("fiber", seen?.Message);
    }

    private static async Task Run(WasmEngine engine)
    {
        using var linker = new WasmLinker(engine);
        var noneToI32 = WasmFuncType.Of([], [WasmValueKind.I32]);
        linker.DefineFunc("host", "fill_sync", noneToI32, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            var alloc = caller.GetExport("alloc")!.Value.Func!.Value;
            Span<WasmValue> r = stackalloc WasmValue[1];
            caller.Call(alloc, [WasmValue.I32(4)], r);
            var p = r[0].AsI32();
            caller.GetMemory()!.Value.GetSpan(caller.Context, (uint)p, 1)[0] = 77;
            results[0] = WasmValue.I32(p);
        });
        linker.DefineAsyncFunc("host", "fill_async", noneToI32, async (caller, args, results) =>
        {
            await Task.Delay(1).ConfigureAwait(false);
            var alloc = caller.GetExport("alloc")!.Value.Func!.Value;
            var r = new WasmValue[1];
            caller.Call(alloc, [WasmValue.I32(4)], r);
            var p = r[0].AsI32();
            caller.GetMemory()!.Value.GetSpan(caller.Context, (uint)p, 1)[0] = 88;
            results[0] = WasmValue.I32(p);
        });
        using var module = TestModules.Compile(engine, Guest);
        using var store = new WasmStore(engine);
        var instance = await linker.InstantiateAsync(store, module);
        Assert.Equal(77, (await instance.GetFunc(store, "run_sync").CallAsync(store, [], 1))[0].AsI32());
        Assert.Equal(88, (await instance.GetFunc(store, "run_async").CallAsync(store, [], 1))[0].AsI32());
    }
}
