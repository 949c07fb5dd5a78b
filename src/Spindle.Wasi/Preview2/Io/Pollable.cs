namespace Spindle.Wasi.Preview2.Io;

/// <summary>
/// A <c>wasi:io/poll.pollable</c>: something a guest can wait on. Readiness is checked without waiting;
/// waiting is a <see cref="ValueTask"/> so no thread is held while a guest is blocked.
/// </summary>
public abstract class Pollable
{
    /// <summary>True when a wait would return at once.</summary>
    public abstract bool IsReady { get; }

    /// <summary>Completes when <see cref="IsReady"/> becomes true (never faults except on cancellation).</summary>
    public abstract ValueTask WaitAsync(CancellationToken cancellation);

    /// <summary>A pollable that is always ready.</summary>
    public static Pollable Ready() => new ReadyPollable();

    /// <summary>A pollable that becomes ready when <paramref name="task"/> completes (in any state).</summary>
    public static Pollable FromTask(Task task) => new TaskPollable(task);

    /// <summary>
    /// Waits until at least one of <paramref name="pollables"/> is ready and returns the indices of the ready ones.
    /// </summary>
    public static async ValueTask<uint[]> PollAsync(IReadOnlyList<Pollable> pollables, CancellationToken cancellation)
    {
        if (pollables.Count == 0)
            throw new ArgumentException("wasi:io/poll.poll called with an empty list", nameof(pollables));
        if (pollables.Count == 1)
        {
            // One pollable (a JavaScript guest waiting on its fetch alone): its own wait, without a race to set up.
            var only = pollables[0];
            while (!only.IsReady)
            {
                await only.WaitAsync(cancellation).ConfigureAwait(false);
                cancellation.ThrowIfCancellationRequested();
            }
            return [0];
        }
        while (true)
        {
            var ready = ReadyIndices(pollables);
            if (ready.Length > 0)
                return ready;
            // The waits that lose are cancelled, so a guest polling a long timer in a loop leaves no timers behind.
            using var losers = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var waits = new Task[pollables.Count];
            for (var i = 0; i < waits.Length; i++)
                waits[i] = pollables[i].WaitAsync(losers.Token).AsTask();
            await Task.WhenAny(waits).ConfigureAwait(false);
            losers.Cancel();
            cancellation.ThrowIfCancellationRequested();
        }
    }

    private static uint[] ReadyIndices(IReadOnlyList<Pollable> pollables)
    {
        List<uint>? ready = null;
        for (var i = 0; i < pollables.Count; i++)
            if (pollables[i].IsReady)
                (ready ??= []).Add((uint)i);
        return ready?.ToArray() ?? [];
    }

    private sealed class ReadyPollable : Pollable
    {
        public override bool IsReady => true;
        public override ValueTask WaitAsync(CancellationToken cancellation) => default;
    }

    private sealed class TaskPollable(Task task) : Pollable
    {
        public override bool IsReady => task.IsCompleted;

        // WhenAny never rethrows the task's own fault: a pollable only reports readiness.
        public override ValueTask WaitAsync(CancellationToken cancellation) =>
            task.IsCompleted ? default : new(Task.WhenAny(task).WaitAsync(cancellation));
    }
}

/// <summary>A pollable that becomes ready when a predicate holds; the wait is supplied by the owner.</summary>
public sealed class ConditionPollable(Func<bool> isReady, Func<CancellationToken, ValueTask> wait) : Pollable
{
    /// <inheritdoc />
    public override bool IsReady => isReady();

    /// <inheritdoc />
    public override ValueTask WaitAsync(CancellationToken cancellation) => isReady() ? default : wait(cancellation);
}
