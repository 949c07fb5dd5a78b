using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>
/// Runs work that a host function starts but that must not run on the guest's fiber (another guest's call, for
/// one: polling a future from inside another's fiber is unsafe, and managed code must not run on a fiber stack it
/// does not own), without a thread-pool wake-up.
/// <para>
/// Inside a poll driven by an async call or instantiation (a host function on the guest's fiber), the work is
/// kept until that poll returns, then runs inline on the same thread, back on the thread's own stack, before the
/// driver looks at the guest's pending host task. Work that completes that task synchronously (a callee that
/// answered at once) lets the guest resume with no wake-up at all. Anywhere else the work goes to the thread pool.
/// </para>
/// <para>
/// The work runs in the execution context captured here (as <see cref="Task.Run(Action)"/> would), and must not
/// throw: an escaping exception is dropped, as a discarded task's would be.
/// </para>
/// </summary>
public static class AfterPoll
{
    // What the poll running on this thread collected: null when no driver accepts work here (outside a poll, or in
    // a poll someone else drives), Accepting when the driver's poll has nothing yet, else the latest item (a
    // stack, run in reverse). One field so a poll saves and restores it with one read and one write.
    [ThreadStatic] private static object? t_pending;
    private static readonly object Accepting = new();

    /// <summary>
    /// True when the calling code runs on a guest's fiber (in a host function, inside a poll). Completing a task
    /// here with synchronous continuations would run them on the fiber: continue them elsewhere instead.
    /// </summary>
    public static bool InsideGuest => FiberGuard.InsidePoll;

    /// <summary>Runs <paramref name="work"/>(<paramref name="state"/>) off the guest's fiber: on this thread once the current poll returns, else on the thread pool.</summary>
    public static void Run(Action<object?> work, object? state)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (t_pending is { } pending && FiberGuard.InsidePoll)
        {
            t_pending = new Item(work, state, ExecutionContext.Capture(), pending as Item);
            return;
        }
        RunElsewhere(new Item(work, state, ExecutionContext.Capture(), null));
    }

    /// <summary>Polls <paramref name="future"/> on this thread, collecting the work host functions defer meanwhile.</summary>
    internal static (bool Done, Item? Deferred) Poll(IntPtr future)
    {
        var previous = t_pending;
        t_pending = Accepting;
        bool done;
        try
        {
            done = FiberGuard.Poll(future);
        }
        catch
        {
            RunElsewhere(Close(previous));
            throw;
        }
        return (done, Close(previous));
    }

    /// <summary>Opens a poll that accepts no work (a nested poll that cannot return to the driver in between).</summary>
    internal static object? Refuse()
    {
        var previous = t_pending;
        t_pending = null;
        return previous;
    }

    /// <summary>Ends a poll: returns the work it collected (null for none) and restores <paramref name="previous"/>.</summary>
    internal static Item? Close(object? previous)
    {
        var collected = t_pending as Item;
        t_pending = previous;
        return collected;
    }

    /// <summary>Runs what a poll collected, in the order it was deferred, on this thread (which must be off any fiber).</summary>
    internal static void RunInline(Item? collected)
    {
        if (collected is null) return;
        Item? ordered = null;
        while (collected is not null)
        {
            var next = collected.Next;
            collected.Next = ordered;
            ordered = collected;
            collected = next;
        }
        for (; ordered is not null; ordered = ordered.Next)
            ordered.Invoke();
    }

    /// <summary>Hands collected work to the thread pool (when the driver cannot run it here).</summary>
    internal static void RunElsewhere(Item? collected)
    {
        for (; collected is not null; collected = collected.Next)
            ThreadPool.UnsafeQueueUserWorkItem(static item => item.Invoke(), collected, preferLocal: false);
    }

    internal sealed class Item(Action<object?> work, object? state, ExecutionContext? context, Item? next)
    {
        public Item? Next = next;

        public void Invoke()
        {
            try
            {
                if (context is null) work(state);
                else ExecutionContext.Run(context, static s => ((Item)s!).InvokeCore(), this);
            }
            catch (Exception)
            {
                // Documented: the work must not throw; a thread-pool item would have crashed the process, a
                // discarded task would have dropped it. Dropped here so the guest's driver is never disturbed.
            }
        }

        private void InvokeCore() => work(state);
    }
}
