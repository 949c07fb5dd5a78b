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
}

/// <summary>A waitable set (the spec's <c>WaitableSet</c>): the waitables joined to it.</summary>
internal sealed class WaitableSet
{
    /// <summary>Waitables currently joined (a set that still has members cannot be dropped).</summary>
    public int Members { get; set; }

    /// <summary>The spec's event codes (<c>EventCode</c> in canonical-abi/definitions.py).</summary>
    public const int EventNone = 0;

    /// <summary>The status <c>canon lower async</c> returns for a call that completed (<c>Subtask.State.RETURNED</c>).</summary>
    public const int SubtaskReturned = 2;
}
