namespace Spindle.Wasmtime.Interop;

/// <summary>
/// For pooling engines: polls futures only on threads whose stacks lie above every fiber stack of the engine's
/// pool. A thread below it (created while the pools were being reserved, or anywhere when the pools landed among
/// the thread stacks) hands its polls to a poller thread whose stack is mapped above the pool
/// (<see cref="HighStackThread"/>).
/// </summary>
internal sealed class PollRouter : IDisposable
{
    private readonly nuint _fiberRegionTop;
    private readonly System.Collections.Concurrent.BlockingCollection<Action> _work = new();
    private readonly HighStackThread? _highThread;
    private readonly Thread? _thread;

    public PollRouter(nuint fiberRegionTop)
    {
        _fiberRegionTop = fiberRegionTop;
        _highThread = HighStackThread.TryStart(fiberRegionTop, Run);
        if (_highThread is null)
        {
            // No place found for our own stack (not Linux x86-64/arm64, or no free gap): an ordinary thread, which
            // the kernel normally places above pools reserved under AddressSpaceFiller.
            _thread = new Thread(Run, maxStackSize: 4 * 1024 * 1024) { IsBackground = true, Name = "spindle-fiber-poller" };
            _thread.Start();
        }
    }

    /// <summary>Whether the poller's stack was mapped above the pool by us (rather than placed by the kernel).</summary>
    internal bool PollerStackIsPlaced => _highThread is not null;

    /// <summary>Whether the calling thread may poll directly.</summary>
    public bool CurrentThreadIsSafe() => FiberGuard.CurrentStackAddress() > _fiberRegionTop;

    public Task<bool> PollElsewhere(IntPtr future) => RunOnPoller(() => FiberGuard.Poll(future));

    /// <summary>
    /// Polls on the poller, collecting the work host functions leave for after the poll (<see cref="AfterPoll"/>):
    /// the driver runs it on its own thread, as after a direct poll.
    /// </summary>
    public Task<(bool Done, AfterPoll.Item? Deferred)> PollElsewhereCollecting(IntPtr future) => RunOnPoller(() => AfterPoll.Poll(future));

    /// <summary>Runs <paramref name="action"/> on the poller thread.</summary>
    internal Task<T> RunOnPoller<T>(Func<T> action)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try { done.SetResult(action()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    private void Run()
    {
        foreach (var work in _work.GetConsumingEnumerable()) work();
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _highThread?.Dispose();
        _thread?.Join();
        _work.Dispose();
    }
}
