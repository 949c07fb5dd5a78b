using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Interop;

/// <summary>
/// For pooling engines: polls futures only on threads whose stacks lie above every fiber stack of the engine's
/// pool. A thread below it (created while the pools were being reserved) hands its polls to a dedicated thread
/// created afterwards, which lies above them.
/// </summary>
internal sealed unsafe class PollRouter : IDisposable
{
    private readonly nuint _fiberRegionTop;
    private readonly System.Collections.Concurrent.BlockingCollection<(IntPtr Future, TaskCompletionSource<bool> Done)> _work = new();
    private readonly Thread _thread;

    public PollRouter(nuint fiberRegionTop)
    {
        _fiberRegionTop = fiberRegionTop;
        _thread = new Thread(Run, maxStackSize: 4 * 1024 * 1024) { IsBackground = true, Name = "spindle-fiber-poller" };
        _thread.Start();
    }

    /// <summary>Whether the calling thread may poll directly.</summary>
    public bool CurrentThreadIsSafe() => FiberGuard.CurrentStackAddress() > _fiberRegionTop;

    public Task<bool> PollElsewhere(IntPtr future)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add((future, done));
        return done.Task;
    }

    private void Run()
    {
        foreach (var (future, done) in _work.GetConsumingEnumerable())
        {
            try
            {
                done.SetResult(FiberGuard.Poll(future));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }
}
