using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Interop;

/// <summary>
/// The invariant that keeps managed host code on Wasmtime fibers safe, and its check.
/// <para>
/// <b>What must hold.</b> While a host function (managed code) runs on a fiber, the fiber's stack lies at LOWER
/// addresses than the stack of the thread that polled the future (the thread whose P/Invoke transition frame leads
/// into the fiber).
/// </para>
/// <para>
/// <b>Why.</b> Host functions are managed code and Wasmtime runs them on its fiber stacks. The CoreCLR stack walker
/// orders a thread's explicit frames by address, assuming stacks grow down, so the polling thread's frames must lie
/// above the managed frames running on the fiber. When a fiber stack sits above the polling thread's stack, a GC
/// during a host function skips the fiber's managed frames: their object references are not reported, objects
/// they hold are moved or freed under them, and the process later crashes (observed: SIGSEGV and
/// NullReferenceException inside the thread pool under GC pressure, one run in eight on-demand, one in two pooled).
/// </para>
/// <para>
/// <b>How it is kept.</b> On-demand engines take their fiber stacks from <see cref="FiberStackAllocator"/>, which
/// reserves them low. Pooling engines reserve their pools under <see cref="AddressSpaceFiller"/>'s filler mapping,
/// so they normally land below the thread stacks created later; <see cref="PollRouter"/> moves polls off every
/// thread that lies below them anyway onto a poller whose stack we map above them (<see cref="HighStackThread"/>).
/// </para>
/// <para>
/// <b>What the guard does otherwise.</b> <see cref="Poll"/> records a marker on the polling thread's stack; every
/// host function entry calls <see cref="StackOrderIsSafe"/> and, when the fiber is above the marker, returns
/// <see cref="UnsafeStackTrap"/> instead of running managed code: the guest traps with a message naming both
/// addresses (its request gets a 500), and no managed frame ever runs where a GC could miss it.
/// <c>tests/Spindle.Wasmtime.Tests/FiberGcTests.cs</c> forces collections from host functions while hundreds
/// of guests are suspended in host calls.
/// </para>
/// </summary>
internal static unsafe class FiberGuard
{
    [ThreadStatic] private static nuint t_threadStackMarker;

    /// <summary>Polls a future, recording where this thread's stack is.</summary>
    public static bool Poll(IntPtr future)
    {
        byte marker = 0;
        var previous = t_threadStackMarker;
        t_threadStackMarker = (nuint)(&marker);
        try
        {
            return Native.wasmtime_call_future_poll(future) != 0;
        }
        finally
        {
            t_threadStackMarker = previous;
        }
    }

    /// <summary>True while this thread is inside a poll we drive (so managed code here runs on a guest fiber).</summary>
    public static bool InsidePoll => t_threadStackMarker != 0;

    /// <summary>An address on the current thread's stack (the caller's frame).</summary>
    public static nuint CurrentStackAddress()
    {
        byte here = 0;
        return (nuint)(&here);
    }

    /// <summary>True when managed code may run here: we are below the polling thread's frames (or not on a fiber we drive).</summary>
    public static bool StackOrderIsSafe()
    {
        byte here = 0;
        var marker = t_threadStackMarker;
        return marker == 0 || (nuint)(&here) < marker;
    }

    /// <summary>An owned trap for Wasmtime, built without allocating managed memory (a GC must not run here).</summary>
    public static IntPtr UnsafeStackTrap()
    {
        byte here = 0;
        var prefix = "host function refused to run: the fiber stack lies above the polling thread's stack, where a .NET GC could miss its frames (fiber "u8;
        Span<byte> buffer = stackalloc byte[prefix.Length + 64];
        prefix.CopyTo(buffer);
        var n = prefix.Length;
        n += WriteHex(buffer[n..], (nuint)(&here));
        " thread "u8.CopyTo(buffer[n..]);
        n += 8;
        n += WriteHex(buffer[n..], t_threadStackMarker);
        buffer[n++] = (byte)')';
        fixed (byte* m = buffer) return Native.wasmtime_trap_new(m, (nuint)n);
    }

    private static int WriteHex(Span<byte> to, nuint value)
    {
        to[0] = (byte)'0';
        to[1] = (byte)'x';
        for (int i = 0; i < 16; i++)
        {
            var digit = (int)((value >> ((15 - i) * 4)) & 0xF);
            to[2 + i] = (byte)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        }
        return 18;
    }
}
