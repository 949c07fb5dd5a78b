using System.Diagnostics;

namespace Spindle.Wasmtime.Tests;

public sealed class CallTests : IDisposable
{
    private readonly WasmEngine _engine = new();
    private readonly WasmModule _module;
    private readonly WasmLinker _linker;

    public CallTests()
    {
        _module = TestModules.Compile(_engine, TestModules.Main);
        _linker = TestModules.MainLinker(_engine);
    }

    public void Dispose()
    {
        _linker.Dispose();
        _module.Dispose();
        _engine.Dispose();
    }

    [Fact]
    public void WasmValueHasNativeSize() =>
        Assert.Equal(WasmValue.NativeSize, System.Runtime.CompilerServices.Unsafe.SizeOf<WasmValue>());

    [Fact]
    public async Task MultiArgumentMultiResultCallUsesTheNativeStride()
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        var sum4 = instance.GetFunc(store, "sum4");
        var results = await sum4.CallAsync(store, [WasmValue.I32(7), WasmValue.I64(100), WasmValue.F32(0.5f), WasmValue.F64(0.25)], 3);
        Assert.Equal(107.75, results[0].AsF64());
        Assert.Equal(101L, results[1].AsI64());
        Assert.Equal(8, results[2].AsI32());

        var type = sum4.Type(store);
        Assert.Equal([WasmValueKind.I32, WasmValueKind.I64, WasmValueKind.F32, WasmValueKind.F64], type.Parameters);
        Assert.Equal([WasmValueKind.F64, WasmValueKind.I64, WasmValueKind.I32], type.Results);
    }

    [Fact]
    public async Task SyncHostImportReceivesEveryArgument()
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        var results = await instance.GetFunc(store, "call_add3").CallAsync(store, [WasmValue.I32(1), WasmValue.I64(20), WasmValue.F64(300)], 1);
        Assert.Equal(321L, results[0].AsI64());
    }

    [Fact]
    public async Task AsyncHostImportAwaitsAndReturnsItsValue()
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        var sw = Stopwatch.StartNew();
        var results = await instance.GetFunc(store, "call_slow_twice").CallAsync(store, [WasmValue.I32(21)], 1);
        Assert.Equal(84, results[0].AsI32());
        Assert.True(sw.ElapsedMilliseconds >= 35, $"two 20 ms host waits took only {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task HostFunctionSeesStoreDataAndCallerMemory()
    {
        using var linker = new WasmLinker(_engine);
        string? seen = null;
        linker.DefineFunc("host", "add3", TestModules.Add3Type, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            var memory = caller.GetMemory() ?? throw new InvalidOperationException("no memory export");
            var bytes = memory.GetSpan(caller.Context, (uint)args[0].AsI32(), 5);
            seen = (string)caller.Data! + System.Text.Encoding.ASCII.GetString(bytes);
            results[0] = WasmValue.I64(bytes.Length);
        });
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, async (caller, args, results) =>
        {
            await Task.Yield();
            var memory = caller.GetMemory()!.Value;
            memory.GetSpan(caller.Context, (uint)args[0].AsI32(), 1)[0] = 0x5A;
            results[0] = WasmValue.I32(1);
        });
        using var store = new WasmStore(_engine, "data:");
        var instance = await linker.InstantiateAsync(store, _module);
        var memory = instance.GetMemory(store)!.Value;
        "hello"u8.CopyTo(memory.GetSpan(store)[100..]);

        var r = await instance.GetFunc(store, "call_add3").CallAsync(store, [WasmValue.I32(100), WasmValue.I64(0), WasmValue.F64(0)], 1);
        Assert.Equal(5L, r[0].AsI64());
        Assert.Equal("data:hello", seen);

        await instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(200)], 1);
        var loaded = await instance.GetFunc(store, "load8").CallAsync(store, [WasmValue.I32(200)], 1);
        Assert.Equal(0x5A, loaded[0].AsI32());
    }

    [Fact]
    public async Task MemoryIsReadAndWrittenThroughSpans()
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        var memory = instance.GetMemory(store)!.Value;
        Assert.Equal((ulong)WasmMemory.PageSize, memory.Size(store));
        Assert.Equal(1UL, memory.Pages(store));

        memory.GetSpan(store)[42] = 99;
        var loaded = await instance.GetFunc(store, "load8").CallAsync(store, [WasmValue.I32(42)], 1);
        Assert.Equal(99, loaded[0].AsI32());

        await instance.GetFunc(store, "store8").CallAsync(store, [WasmValue.I32(7), WasmValue.I32(0xAB)], 0);
        Assert.Equal(0xAB, memory.GetSpan(store)[7]);

        Assert.Throws<WasmTrapException>(() => memory.GetSpan(store, WasmMemory.PageSize - 2, 3));
        Assert.Equal(1UL, memory.Grow(store, 1));
        Assert.Equal(2UL * WasmMemory.PageSize, (ulong)memory.GetSpan(store).Length);
        Assert.NotEqual(IntPtr.Zero, memory.DataPointer(store));
    }

    [Fact]
    public async Task GlobalsAndTablesAreReachable()
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        var global = instance.GetExport(store, "counter")!.Value.Global!.Value;
        Assert.Equal(5, global.Get(store).AsI32());
        global.Set(store, WasmValue.I32(9));
        Assert.Equal(9, global.Get(store).AsI32());

        var table = instance.GetExport(store, "table")!.Value.Table!.Value;
        Assert.Equal(2UL, table.Size(store));
        var boom = table.Get(store, 0)!.Value.AsFuncRef();
        Assert.False(boom.IsNull);
        Assert.True(table.Get(store, 1)!.Value.IsNullRef);
        Assert.Null(table.Get(store, 5));
        table.Set(store, 1, WasmValue.FuncRef(boom));
        Assert.False(table.Get(store, 1)!.Value.IsNullRef);

        var exports = instance.Exports(store);
        Assert.Contains(exports, e => e.Name == "memory" && e.Extern.Kind == WasmExternKind.Memory);
    }

    [Fact]
    public async Task UnreachableTrapsAndTheEngineKeepsWorking()
    {
        using (var store = new WasmStore(_engine))
        {
            var instance = await _linker.InstantiateAsync(store, _module);
            var trap = await Assert.ThrowsAsync<WasmTrapException>(async () => await instance.GetFunc(store, "boom").CallAsync(store, [], 0));
            Assert.Equal(TrapCode.UnreachableCodeReached, trap.TrapCode);
            Assert.Contains("unreachable", trap.Message, StringComparison.OrdinalIgnoreCase);
        }
        using (var store = new WasmStore(_engine))
        {
            var instance = await _linker.InstantiateAsync(store, _module);
            var r = await instance.GetFunc(store, "call_add3").CallAsync(store, [WasmValue.I32(1), WasmValue.I64(1), WasmValue.F64(1)], 1);
            Assert.Equal(3L, r[0].AsI64());
        }
    }

    [Theory]
    [InlineData("recurse", TrapCode.StackOverflow)]
    [InlineData("oob", TrapCode.MemoryOutOfBounds)]
    public async Task GuestFaultsAreTrapsNotCrashes(string export, TrapCode code)
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        var trap = await Assert.ThrowsAsync<WasmTrapException>(async () => await instance.GetFunc(store, export).CallAsync(store));
        Assert.Equal(code, trap.TrapCode);
    }

    [Fact]
    public async Task HostExceptionsBecomeTrapsCarryingTheMessage()
    {
        using var linker = new WasmLinker(_engine);
        linker.DefineFunc("host", "add3", TestModules.Add3Type, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
            throw new InvalidOperationException("sync host boom"));
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, async (caller, args, results) =>
        {
            await Task.Delay(5).ConfigureAwait(false);
            throw new WasmTrapException("async host boom");
        });

        using (var store = new WasmStore(_engine))
        {
            var instance = await linker.InstantiateAsync(store, _module);
            var e = await Assert.ThrowsAsync<WasmTrapException>(async () =>
                await instance.GetFunc(store, "call_add3").CallAsync(store, [WasmValue.I32(1), WasmValue.I64(1), WasmValue.F64(1)], 1));
            Assert.Contains("sync host boom", e.ToString());
            Assert.IsType<InvalidOperationException>(e.InnerException);
        }
        using (var store = new WasmStore(_engine))
        {
            var instance = await linker.InstantiateAsync(store, _module);
            var e = await Assert.ThrowsAsync<WasmTrapException>(async () =>
                await instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(1)], 1));
            Assert.Contains("async host boom", e.ToString());
        }
    }

    [Fact]
    public async Task WrongResultKindFromHostIsATrapNotACrash()
    {
        using var linker = new WasmLinker(_engine);
        linker.DefineFunc("host", "add3", TestModules.Add3Type, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
            results[0] = WasmValue.F32(1));
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, (caller, args, results) =>
        {
            results[0] = WasmValue.I64(1);
            return ValueTask.CompletedTask;
        });
        using var store = new WasmStore(_engine);
        var instance = await linker.InstantiateAsync(store, _module);
        var e = await Assert.ThrowsAsync<WasmTrapException>(async () =>
            await instance.GetFunc(store, "call_add3").CallAsync(store, [WasmValue.I32(1), WasmValue.I64(1), WasmValue.F64(1)], 1));
        Assert.Contains("expected I64", e.ToString());
    }

    [Fact]
    public async Task EpochDeadlineInterruptsAnInfiniteLoop()
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        store.SetEpochDeadline(_engine.ExecutionTicksFor(TimeSpan.FromMilliseconds(100)));
        var sw = Stopwatch.StartNew();
        var trap = await Assert.ThrowsAsync<WasmTrapException>(async () => await instance.GetFunc(store, "spin").CallAsync(store, [], 0));
        sw.Stop();
        Assert.Equal(TrapCode.Interrupt, trap.TrapCode);
        Assert.Contains("interrupt", trap.Message);
        Assert.InRange(sw.ElapsedMilliseconds, 80, 5000);
    }

    [Fact]
    public async Task EpochYieldReplacesTheTrapWithCooperativeYields()
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        store.EpochDeadlineAsyncYieldAndUpdate(1);
        store.SetEpochDeadline(1);
        // With a one-tick deadline this loop would trap; with yield-and-update it yields every tick and finishes.
        var sw = Stopwatch.StartNew();
        var r = await instance.GetFunc(store, "count").CallAsync(store, [WasmValue.I32(100_000_000)], 1);
        Assert.Equal(100_000_000, r[0].AsI32());
        Assert.True(sw.ElapsedMilliseconds > 20, $"loop finished in {sw.ElapsedMilliseconds} ms, before a single tick could pass");
    }

    [Fact]
    public async Task SecondConcurrentCallOnOneStoreIsRejected()
    {
        using var store = new WasmStore(_engine);
        var instance = await _linker.InstantiateAsync(store, _module);
        var first = instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(1)], 1);
        Assert.Throws<InvalidOperationException>(() => instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(1)], 1));
        Assert.Equal(2, (await first)[0].AsI32());
    }

    [Fact]
    public async Task ManyStoresAwaitHostCallsConcurrentlyWithoutBlockingThreads()
    {
        using var module = TestModules.Compile(_engine, TestModules.SlowOnly);
        using var pre = _linker.InstantiatePre(module);
        const int N = 200;
        var threadsBefore = ThreadPool.ThreadCount;
        var sw = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, N).Select(async i =>
        {
            await Task.Yield();
            using var store = new WasmStore(_engine);
            var instance = await pre.InstantiateAsync(store);
            var r = await instance.GetFunc(store, "run").CallAsync(store, [WasmValue.I32(i)], 1);
            return r[0].AsI32();
        }).ToArray();
        var results = await Task.WhenAll(tasks);
        sw.Stop();
        Assert.Equal(Enumerable.Range(0, N).Select(i => i * 2), results);
        Assert.True(sw.ElapsedMilliseconds < 2000, $"{N} concurrent 20 ms host waits took {sw.ElapsedMilliseconds} ms");
        Assert.True(ThreadPool.ThreadCount < threadsBefore + 32, $"thread pool grew from {threadsBefore} to {ThreadPool.ThreadCount}");
    }
}
