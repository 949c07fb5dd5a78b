namespace Spindle.Wasmtime;

/// <summary>
/// Receives, from the thread driving a guest call, the moments the guest starts and stops waiting on a pending
/// async host task (see <see cref="WasmStore.WaitObserver"/>). Calls come in pairs, never nested.
/// </summary>
public interface IGuestWaitObserver
{
    /// <summary>The guest is parked on a host task: it holds its instance but no CPU.</summary>
    void WaitStarted();

    /// <summary>The host task completed (or the call was cancelled): the guest runs again.</summary>
    void WaitEnded();
}
