using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Interop;

/// <summary>
/// A thread whose stack we map ourselves, above a given address, so that it satisfies the stack-order invariant on
/// <see cref="FiberGuard"/> whatever the kernel did with the engine's pools. A .NET thread's stack goes wherever
/// the kernel puts it: normally above pools reserved under <see cref="AddressSpaceFiller"/>, but not always
/// (seen once on a loaded CI run: the pool of one engine landed among the thread stacks and its poller thread just
/// below it, so every poll it was handed trapped with the guard's message and those requests answered 500).
/// <para>
/// The stack is placed in the highest free gap below the main thread's stack growth area, found in
/// <c>/proc/self/maps</c>; the thread is a plain pthread given that stack (<c>pthread_attr_setstack</c>), and it
/// enters managed code through an unmanaged entry point, which makes the runtime adopt it like any foreign
/// thread (its stack bounds come from the same attributes).
/// </para>
/// </summary>
internal sealed unsafe class HighStackThread : IDisposable
{
    private const nuint StackSize = 1 << 20;
    private const nuint Guard = 64 << 10;
    private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20, MapNoReserve = 0x4000, MapFixedNoReplace = 0x100000;
    private const int RlimitStack = 3;

    private readonly byte* _mapping;
    private readonly nuint _pthread;
    private int _joined;

    private HighStackThread(byte* mapping, nuint pthread)
    {
        _mapping = mapping;
        _pthread = pthread;
    }

    /// <summary>The lowest address of this thread's usable stack.</summary>
    public nuint StackLow => (nuint)_mapping + Guard;

    /// <summary>
    /// Starts <paramref name="run"/> on a thread whose whole stack lies above <paramref name="above"/>; null when no
    /// such place is free or the platform is not 64-bit Linux (the caller then uses an ordinary thread).
    /// </summary>
    public static HighStackThread? TryStart(nuint above, Action run)
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8) return null;
        var total = StackSize + Guard;
        var mapping = MapHigh(above, total);
        if (mapping == null) return null;
        if (mprotect((IntPtr)(mapping + Guard), StackSize, ProtRead | ProtWrite) != 0)
        {
            munmap((IntPtr)mapping, total);
            return null;
        }
        var handle = GCHandle.Alloc(run);
        var attr = stackalloc byte[128]; // pthread_attr_t: 56 bytes on x86-64, 64 on arm64 glibc
        nuint pthread = 0;
        var started = pthread_attr_init(attr) == 0;
        try
        {
            started = started
                && pthread_attr_setstack(attr, mapping + Guard, StackSize) == 0
                && pthread_create(&pthread, attr, &Entry, GCHandle.ToIntPtr(handle)) == 0;
        }
        finally
        {
            pthread_attr_destroy(attr);
        }
        if (!started)
        {
            handle.Free();
            munmap((IntPtr)mapping, total);
            return null;
        }
        return new HighStackThread(mapping, pthread);
    }

    /// <summary>Waits for the thread's action to return, then unmaps its stack. Call only once the action was told to stop.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _joined, 1) != 0) return;
        if (pthread_join(_pthread, null) == 0) munmap((IntPtr)_mapping, StackSize + Guard);
    }

    [UnmanagedCallersOnly]
    private static IntPtr Entry(IntPtr arg)
    {
        var handle = GCHandle.FromIntPtr(arg);
        try
        {
            ((Action)handle.Target!)();
        }
        catch
        {
            // Never unwind into the pthread start routine.
        }
        finally
        {
            handle.Free();
        }
        return IntPtr.Zero;
    }

    /// <summary>Maps <paramref name="total"/> bytes PROT_NONE at the top of the highest free gap that lies above
    /// <paramref name="above"/> and below the main thread's stack and the room it may grow into.</summary>
    private static byte* MapHigh(nuint above, nuint total)
    {
        foreach (var (gapStart, gapEnd) in FreeGapsFromTheTop())
        {
            if (gapEnd - gapStart < total) continue;
            var at = (gapEnd - total) & ~((nuint)Environment.SystemPageSize - 1);
            if (at < gapStart) continue;
            if (at <= above) return null; // every later gap lies lower still
            var p = mmap((IntPtr)at, total, ProtNone, MapPrivate | MapAnonymous | MapNoReserve | MapFixedNoReplace, -1, 0);
            if (p == (IntPtr)at) return (byte*)p;
            if (p != new IntPtr(-1)) munmap(p, total);
        }
        return null;
    }

    /// <summary>The free ranges of the address space below the main thread's stack and the room it may grow
    /// into, highest first (empty when the layout cannot be read).</summary>
    internal static List<(nuint Start, nuint End)> FreeGapsFromTheTop()
    {
        var gaps = new List<(nuint Start, nuint End)>();
        var maps = ProcessMappings.Read();
        maps.Sort();
        var mainStack = maps.FirstOrDefault(m => m.IsMainStack);
        if (mainStack.Start == 0) return gaps;
        // The main stack grows down to its rlimit; keep that room, and 16 MiB more, free.
        Rlimit limit;
        var growth = getrlimit(RlimitStack, &limit) == 0 ? Math.Min(limit.Current, 1UL << 30) : 1UL << 30;
        var ceiling = mainStack.Start - (nuint)Math.Max(growth, 8UL << 20) - (16 << 20);
        for (int i = maps.Count - 1; i > 0; i--)
        {
            var gapStart = maps[i - 1].End;
            var gapEnd = Math.Min(maps[i].Start, ceiling);
            if (gapEnd > gapStart) gaps.Add((gapStart, gapEnd));
        }
        return gaps;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc")] private static extern IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, nint offset);
    [DllImport("libc")] private static extern int munmap(IntPtr addr, nuint length);
    [DllImport("libc")] private static extern int mprotect(IntPtr addr, nuint length, int prot);
    [DllImport("libc")] private static extern int getrlimit(int resource, Rlimit* limit);
    [DllImport("libc")] private static extern int pthread_attr_init(byte* attr);
    [DllImport("libc")] private static extern int pthread_attr_destroy(byte* attr);
    [DllImport("libc")] private static extern int pthread_attr_setstack(byte* attr, byte* stackLow, nuint size);
    [DllImport("libc")] private static extern int pthread_create(nuint* thread, byte* attr, delegate* unmanaged<IntPtr, IntPtr> start, IntPtr arg);
    [DllImport("libc")] private static extern int pthread_join(nuint thread, IntPtr* result);
}
