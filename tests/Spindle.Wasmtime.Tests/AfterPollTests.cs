namespace Spindle.Wasmtime.Tests;

/// <summary>
/// <see cref="AfterPoll"/>: work a host function defers runs off the guest's fiber, on the driving thread, as soon
/// as the poll returns, so a host task it completes lets the guest resume without a thread-pool wake-up.
/// Orderings are observed (what the guest sees when it resumes), not timings.
/// </summary>
public sealed class AfterPollTests
{
    private static EngineOptions Options(bool pooling) => pooling
        ? new() { Pooling = true, TotalCoreInstances = 2, TotalMemories = 2, TotalTables = 2, TotalStacks = 4, MaxMemorySize = 1 << 20 }
        : new();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Deferred_work_runs_off_the_fiber_and_before_the_guest_resumes(bool pooling)
    {
        using var engine = new WasmEngine(Options(pooling));
        using var module = TestModules.Compile(engine, TestModules.Main);
        using var linker = new WasmLinker(engine);
        linker.DefineFunc("host", "add3", TestModules.Add3Type, static (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) => { });
        var calls = 0;
        int hostThread = 0, workThread = 0, resumeThread = 0;
        bool hostInsideGuest = false, workInsideGuest = true, workReturned = false, workReturnedAtResume = false;
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, (caller, args, results) =>
        {
            results[0] = WasmValue.I32(args[0].AsI32() * 2);
            if (++calls == 2)
            {
                // The guest resumed after the first call: had the work run elsewhere, the task's inline
                // continuation would have resumed it inside the work, before the work returned.
                resumeThread = Environment.CurrentManagedThreadId;
                workReturnedAtResume = workReturned;
                return default;
            }
            hostThread = Environment.CurrentManagedThreadId;
            hostInsideGuest = AfterPoll.InsideGuest;
            var answered = new TaskCompletionSource(); // continuations inline, like a chained call's response
            AfterPoll.Run(_ =>
            {
                workThread = Environment.CurrentManagedThreadId;
                workInsideGuest = AfterPoll.InsideGuest;
                answered.SetResult();
                workReturned = true;
            }, null);
            return new ValueTask(answered.Task);
        });
        using var store = new WasmStore(engine);
        var instance = await linker.InstantiateAsync(store, module);

        var results = await instance.GetFunc(store, "call_slow_twice").CallAsync(store, [WasmValue.I32(5)], 1);

        Assert.Equal(20, results[0].AsI32());
        Assert.Equal(2, calls);
        Assert.True(hostInsideGuest);
        Assert.False(workInsideGuest);
        Assert.True(workReturnedAtResume, "the guest resumed before the deferred work returned");
        if (engine.Router is null)
        {
            // Polled directly: one thread throughout, no wake-up anywhere.
            Assert.Equal(hostThread, workThread);
            Assert.Equal(hostThread, resumeThread);
        }
    }

    [Fact]
    public async Task Work_deferred_by_a_guest_that_then_returns_has_run_when_the_call_completes()
    {
        using var engine = new WasmEngine();
        using var module = TestModules.Compile(engine, TestModules.Main);
        using var linker = new WasmLinker(engine);
        var hostThread = 0;
        var workThread = 0;
        var flowed = new AsyncLocal<string>();
        string? seen = null;
        linker.DefineFunc("host", "add3", TestModules.Add3Type, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            hostThread = Environment.CurrentManagedThreadId;
            flowed.Value = "from the host function";
            AfterPoll.Run(_ =>
            {
                workThread = Environment.CurrentManagedThreadId;
                seen = flowed.Value;
            }, null);
            results[0] = WasmValue.I64(1);
        });
        linker.DefineAsyncFunc("host", "slow", TestModules.I32ToI32, static (caller, args, results) => default);
        using var store = new WasmStore(engine);
        var instance = await linker.InstantiateAsync(store, module);

        await instance.GetFunc(store, "call_add3").CallAsync(store, [WasmValue.I32(1), WasmValue.I64(1), WasmValue.F64(1)], 1);

        Assert.Equal(hostThread, workThread);
        Assert.Equal("from the host function", seen); // the execution context of the host function, as Task.Run's
    }

    [Fact]
    public async Task Outside_a_guest_the_work_goes_to_the_pool_with_the_execution_context()
    {
        var flowed = new AsyncLocal<string> { Value = "outside" };
        var ran = new TaskCompletionSource<(bool InsideGuest, string? Value)>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.False(AfterPoll.InsideGuest);

        AfterPoll.Run(_ => ran.SetResult((AfterPoll.InsideGuest, flowed.Value)), null);

        var (insideGuest, value) = await ran.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.False(insideGuest);
        Assert.Equal("outside", value);
    }
}
