namespace Spindle.Wasmtime.Tests;

public sealed class CancellationTests : IDisposable
{
    private readonly WasmEngine _engine = new();

    public void Dispose() => _engine.Dispose();

    [Fact]
    public async Task CancellingAbandonsTheStoreAndInvalidatesTheHostCaller()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lateAccess = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var linker = new WasmLinker(_engine);
        linker.DefineFunc("host", "add3", TestModules.Add3Type, (ref HostCaller c, ReadOnlySpan<WasmValue> a, Span<WasmValue> r) => { });
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, async (caller, args, results) =>
        {
            await release.Task.ConfigureAwait(false);
            try
            {
                caller.GetMemory();
                lateAccess.SetResult(null);
            }
            catch (Exception e)
            {
                lateAccess.SetResult(e);
            }
        });
        using var module = TestModules.Compile(_engine, TestModules.Main);
        var store = new WasmStore(_engine);
        var instance = await linker.InstantiateAsync(store, module);

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        store.CancellationToken = cts.Token;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(1)], 1));
        Assert.Throws<InvalidOperationException>(() => instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(1)], 1));
        store.Dispose();

        release.SetResult();
        Assert.IsType<InvalidOperationException>(await lateAccess.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        using var fresh = new WasmStore(_engine);
        var again = await TestModules.MainLinker(_engine, slowMs: 1).InstantiateAsync(fresh, module);
        Assert.Equal(6, (await again.GetFunc(fresh, "call_slow").CallAsync(fresh, WasmValue.I32(3)))[0].AsI32());
    }
}
