using Spindle.Components.Abi;
using Spindle.Components.Host;
using Spindle.Components.Types;

namespace Spindle.Components.Runtime;

/// <summary>One slot of a handle table: a resource representation and how the guest holds it.</summary>
internal sealed class HandleEntry(ResourceType type, object rep, bool own, AbiContext? borrowScope)
{
    public readonly ResourceType Type = type;

    /// <summary>The host object (host resources) or the boxed i32 representation (component-defined resources).</summary>
    public readonly object Rep = rep;
    public readonly bool Own = own;

    /// <summary>For a borrow handle given to the guest by an export call: that call (its borrow count).</summary>
    public readonly AbiContext? BorrowScope = borrowScope;

    /// <summary>Borrows of this own handle currently lent out (to a host call); it cannot be dropped meanwhile.</summary>
    public int LendCount;
}

/// <summary>
/// The handle table of one component instance (the canonical ABI's per-instance table). Index 0 is never valid;
/// freed slots are reused. Every lookup checks range, liveness and resource type, and traps naming the type.
/// </summary>
internal sealed class HandleTable
{
    // Slot 0 is never valid. Allocated at the first handle: most component instances of a request (nested shims)
    // never hold one, and a wasi:http guest's table stays within the first array.
    private HandleEntry?[] _slots = [];
    private int _count;
    private Stack<int>? _free;

    /// <summary>No handle was ever added: a new table numbers handles exactly as this one would.</summary>
    public bool NeverUsed => _count <= 1;

    public int Add(HandleEntry entry)
    {
        if (_free is not null && _free.TryPop(out var i)) { _slots[i] = entry; return i; }
        if (_count == 0) _count = 1;
        if (_count >= _slots.Length)
        {
            if (_count >= (1 << 28)) throw AbiContext.Trap("handle table is full");
            Array.Resize(ref _slots, Math.Max(16, _slots.Length * 2));
        }
        _slots[_count] = entry;
        return _count++;
    }

    public HandleEntry Get(uint handle, ResourceType type)
    {
        if (handle == 0 || handle >= (uint)_count)
            throw AbiContext.Trap($"invalid handle index {handle} for resource {Describe(type)} (out of range)");
        var e = _slots[(int)handle] ?? throw AbiContext.Trap($"invalid handle index {handle} for resource {Describe(type)}: the handle was already dropped or moved");
        if (!ReferenceEquals(e.Type, type))
            throw AbiContext.Trap($"handle index {handle} refers to a {Describe(e.Type)}, not a {Describe(type)}");
        return e;
    }

    /// <summary>The live entry at <paramref name="handle"/>, whatever it holds (for built-ins that accept several kinds).</summary>
    public HandleEntry GetAny(uint handle, string expected)
    {
        if (handle == 0 || handle >= (uint)_count)
            throw AbiContext.Trap($"invalid handle index {handle} for a {expected} (out of range)");
        return _slots[(int)handle] ?? throw AbiContext.Trap($"invalid handle index {handle} for a {expected}: the handle was already dropped or moved");
    }

    /// <summary>Removes a handle (drop, or own moved out to the host) after the type checks of <see cref="Get"/>.</summary>
    public HandleEntry Remove(uint handle, ResourceType type)
    {
        var e = Get(handle, type);
        if (e.Own && e.LendCount > 0)
            throw AbiContext.Trap($"cannot drop or move own<{Describe(type)}> handle {handle} while it is borrowed");
        _slots[(int)handle] = null;
        (_free ??= new()).Push((int)handle);
        return e;
    }

    /// <summary>Disposes every host object still owned by the guest (instance end).</summary>
    public void DisposeAll()
    {
        for (var i = 1; i < _count; i++)
        {
            var e = _slots[i];
            _slots[i] = null;
            if (e is { Own: true, Rep: IDisposable d } && e.Type is HostResourceType)
            {
                try { d.Dispose(); } catch { /* a failing Dispose must not stop the others */ }
            }
        }
        _free?.Clear();
    }

    /// <summary>
    /// <see cref="DisposeAll"/>, then numbers handles from the start again, as a new table does (an instance reset
    /// for reuse must hand out the same handle values as a fresh one).
    /// </summary>
    public void Reset()
    {
        DisposeAll();
        _count = 0;
    }

    internal static string Describe(ResourceType t) => t.ToString();
}
