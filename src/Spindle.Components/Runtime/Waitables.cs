using Spindle.Components.Types;

namespace Spindle.Components.Runtime;

/// <summary>
/// The kinds of non-resource entries a component instance's handle table holds for component-model async
/// (the spec's single per-instance table holds resources, waitables and waitable sets alike). They are
/// <see cref="ResourceType"/>s only so that <see cref="HandleTable"/>'s typed lookups and their trap messages
/// ("handle index 3 refers to a waitable-set, not a subtask") apply unchanged.
/// </summary>
internal sealed class AsyncHandleKind : ResourceType
{
    private AsyncHandleKind(string name, bool isWaitable) : base(name) => IsWaitable = isWaitable;

    /// <summary>A waitable (can join a waitable set): subtasks, stream and future ends.</summary>
    public bool IsWaitable { get; }

    public static readonly AsyncHandleKind WaitableSet = new("waitable-set", isWaitable: false);

    /// <summary>
    /// A subtask: an async-lowered call that had not returned when the call did. Spindle's host never creates one
    /// (see <see cref="StepRuntime"/>: in a synchronous task every host call completes before it returns), but the
    /// kind exists so that <c>subtask.drop</c>/<c>cancel</c> and <c>waitable.join</c> check handles as the spec says.
    /// </summary>
    public static readonly AsyncHandleKind Subtask = new("subtask", isWaitable: true);

    /// <summary>The readable end of a stream the host writes (<see cref="ReadableEnd"/>).</summary>
    public static readonly AsyncHandleKind ReadableStream = new("readable stream end", isWaitable: true);

    /// <summary>The readable end of a future the host writes (<see cref="ReadableEnd"/>).</summary>
    public static readonly AsyncHandleKind ReadableFuture = new("readable future end", isWaitable: true);
}

/// <summary>
/// The guest's readable end of a host <see cref="Values.HostStream"/> or <see cref="Values.HostFuture"/> (the
/// spec's <c>ReadableStreamEnd</c>/<c>ReadableFutureEnd</c>). Every copy completes when it is made (the host's
/// values are all there), so an end is never in the COPYING state: it is IDLE, or DONE once the writer is known
/// to be gone (a stream read after its last element) or the future's value was read.
/// </summary>
internal sealed class ReadableEnd(object shared, ValType type)
{
    /// <summary>The <see cref="Values.HostStream"/> or <see cref="Values.HostFuture"/>.</summary>
    public object Shared { get; } = shared;

    /// <summary>The stream or future type the end was created with (built-ins check theirs against it).</summary>
    public ValType Type { get; } = type;

    /// <summary>CopyState.DONE: no further read is allowed.</summary>
    public bool Done { get; set; }

    /// <summary>The waitable set it has joined, if any.</summary>
    public WaitableSet? Set { get; private set; }

    /// <summary>Moves the end to <paramref name="set"/> (null: leaves its set), keeping member counts right.</summary>
    public void Join(WaitableSet? set)
    {
        if (Set is not null) Set.Members--;
        Set = set;
        if (set is not null) set.Members++;
    }
}

/// <summary>A waitable set (the spec's <c>WaitableSet</c>): the waitables joined to it.</summary>
internal sealed class WaitableSet
{
    /// <summary>Waitables currently joined (a set that still has members cannot be dropped).</summary>
    public int Members { get; set; }

    /// <summary>The spec's event codes (<c>EventCode</c> in canonical-abi/definitions.py).</summary>
    public const int EventNone = 0;

    /// <summary>The spec's <c>CopyResult</c> codes, in the low 4 bits of a stream or future read's result.</summary>
    public const int CopyCompleted = 0, CopyDropped = 1;

    /// <summary>The status <c>canon lower async</c> returns for a call that completed (<c>Subtask.State.RETURNED</c>).</summary>
    public const int SubtaskReturned = 2;
}
