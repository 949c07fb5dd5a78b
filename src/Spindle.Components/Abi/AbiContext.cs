using Spindle.Components.Binary;
using Spindle.Components.Runtime;

namespace Spindle.Components.Abi;

/// <summary>
/// What lifting and lowering one call needs: guest memory (re-read after every realloc, since memory can grow),
/// the guest's realloc, the string encoding, the instance's handle table and the call's borrow bookkeeping.
/// </summary>
internal abstract class AbiContext
{
    public StringEncoding Encoding { get; set; }
    public HandleTable Table = null!;

    /// <summary>Own handles lent to the host as borrows during a host call (released when it returns).</summary>
    public List<HandleEntry>? Lenders;

    /// <summary>Borrow handles given to the guest for an export call (all must be dropped before it returns).</summary>
    public int BorrowCount;

    /// <summary>
    /// Lift <c>list&lt;u8&gt;</c> arguments as views of guest memory (<see cref="GuestBytes"/>) instead of copies:
    /// only for synchronous host functions that declared they use the bytes before returning.
    /// </summary>
    public bool BorrowBytes;

    /// <summary>The whole linear memory of the options' <c>memory</c>; traps when the function has none.</summary>
    public abstract Span<byte> Memory();

    /// <summary>Calls the guest's realloc; traps when the function has none.</summary>
    protected abstract int CallRealloc(int oldPtr, int oldSize, int align, int newSize);

    public static ComponentTrapException Trap(string message) => new(message);

    /// <summary>
    /// Bytes a single call may make the host copy out of guest memory. Without a budget, a list of many
    /// (pointer, length) pairs naming the same large region would make the host allocate without bound.
    /// </summary>
    public const long MaxLiftedBytesPerCall = 256L << 20;

    private long _lifted;

    /// <summary>Starts a call on a reused context: no borrows outstanding, a full lifted-bytes budget.</summary>
    protected void ResetCallState()
    {
        BorrowCount = 0;
        _lifted = 0;
        BorrowBytes = false;
    }

    /// <summary>Accounts for <paramref name="bytes"/> copied to the host by this call; traps past the budget.</summary>
    public void Charge(long bytes)
    {
        _lifted += bytes;
        if (_lifted > MaxLiftedBytesPerCall)
            throw Trap($"the guest passed more than {MaxLiftedBytesPerCall >> 20} MiB of strings and lists in one call");
    }

    /// <summary>Allocates guest memory and checks the result's alignment and bounds.</summary>
    public uint Alloc(int align, long size)
    {
        if (size > int.MaxValue) throw Trap($"allocation of {size} bytes is too large");
        var ptr = (uint)CallRealloc(0, 0, align, (int)size);
        if ((ptr & (uint)(align - 1)) != 0) throw Trap($"realloc returned pointer 0x{ptr:x}, which is not {align}-byte aligned");
        var len = Memory().Length;
        if ((ulong)ptr + (ulong)size > (ulong)len) throw Trap($"realloc returned pointer 0x{ptr:x} with {size} bytes past the end of memory ({len} bytes)");
        return ptr;
    }

    /// <summary>A bounds-checked slice of guest memory.</summary>
    public Span<byte> Slice(uint ptr, long length)
    {
        var mem = Memory();
        if (length < 0 || (ulong)ptr + (ulong)length > (ulong)mem.Length)
            throw Trap($"out-of-bounds guest memory access: [0x{ptr:x}, 0x{ptr:x}+{length}) is outside the {mem.Length}-byte memory");
        return mem.Slice((int)ptr, (int)length);
    }

    public void Lend(HandleEntry entry)
    {
        entry.LendCount++;
        (Lenders ??= []).Add(entry);
    }

    /// <summary>Ends the borrow scope of a host call: every handle lent to it is released.</summary>
    public void ReleaseLends()
    {
        if (Lenders is null) return;
        foreach (var e in Lenders) e.LendCount--;
        Lenders.Clear();
    }
}
