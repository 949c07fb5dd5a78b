using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Interop;

/// <summary>
/// Makes a pooling engine's up-front reservations (memories, tables, fiber stacks) land low: while the engine is
/// created, a large PROT_NONE mapping occupies the highest free gap, so the pools go below it; afterwards the
/// filler is released and threads created later get their stacks above the pools (the invariant on <see cref="FiberGuard"/>). Threads created by other code
/// during that window may still end up below the pools, so the reservation's extent is measured too and
/// <see cref="PollRouter"/> moves polls off such threads.
/// </summary>
internal static unsafe class AddressSpaceFiller
{
    /// <summary>Held while a filler is in place and the engine's poller thread starts.</summary>
    public static readonly Lock Gate = new();

    [DllImport("libc")] private static extern IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, nint offset);
    [DllImport("libc")] private static extern int munmap(IntPtr addr, nuint length);

    /// <summary>Runs <paramref name="create"/> under the filler; <paramref name="newMappingsTop"/> is the highest end
    /// address of the mappings that appeared meanwhile and can hold a fiber stack (0 when unknown): when
    /// <paramref name="stackSize"/> is given, only mappings of exactly that size (one stack between guard pages) or
    /// a whole multiple of stack + guard page (a pool not yet split). Other mappings made meanwhile hold no fiber
    /// frames: counting them (measured: a 2 GiB mapping, most likely the runtime's code reservation, made while the
    /// engine was being created, landed among the runtime's first threads) put the top above every thread created later, and
    /// every poll then went through the single poller thread (30% of all CPU in a WAT hello benchmark).</summary>
    public static T While<T>(Func<T> create, out nuint newMappingsTop, nuint stackSize = 0)
    {
        newMappingsTop = 0;
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8) return create();
        var fillers = new List<(IntPtr At, nuint Size)>();
        try
        {
            // 1. One big filler takes the top of the largest free range.
            for (int tib = 32; tib >= 1; tib /= 2)
            {
                var size = (nuint)tib << 40;
                var p = mmap(IntPtr.Zero, size, 0, MapFlags, -1, 0);
                if (p != new IntPtr(-1)) { fillers.Add((p, size)); break; }
            }
            // 2. Small fillers plug every gap above it (between libraries and thread stacks), where a small pool
            //    would otherwise fit and land above threads created later.
            if (fillers.Count == 1)
            {
                var floor = (nuint)fillers[0].At + fillers[0].Size;
                var maps = ProcessMappings.Read();
                maps.Sort();
                var stackStart = maps.FirstOrDefault(m => m.IsMainStack).Start;
                for (int i = 0; i + 1 < maps.Count; i++)
                {
                    var gapStart = maps[i].End;
                    var gapEnd = maps[i + 1].Start;
                    if (gapStart < floor || gapEnd <= gapStart || (stackStart != 0 && gapEnd > stackStart)) continue;
                    var p = mmap((IntPtr)gapStart, gapEnd - gapStart, 0, MapFlags | MapFixedNoReplace, -1, 0);
                    if (p == (IntPtr)gapStart) fillers.Add((p, gapEnd - gapStart));
                    else if (p != new IntPtr(-1)) munmap(p, gapEnd - gapStart);
                }
            }

            var before = ReadMappings();
            var result = create();
            var ours = fillers.Select(f => (nuint)f.At).ToHashSet();
            foreach (var (start, end, _) in ProcessMappings.Read())
            {
                if (before.Contains(start) || ours.Contains(start)) continue;
                if (stackSize != 0 && !HoldsFiberStacks(end - start, stackSize)) continue;
                if (end > newMappingsTop) newMappingsTop = end;
            }
            return result;
        }
        finally
        {
            foreach (var (at, size) in fillers) munmap(at, size);
        }
    }

    private static bool HoldsFiberStacks(nuint size, nuint stackSize)
    {
        var page = (nuint)Environment.SystemPageSize;
        var stack = (stackSize + page - 1) / page * page;
        return size == stack || size % (stack + page) == 0;
    }

    private const int MapFlags = 0x02 | 0x20 | 0x4000; // MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
    private const int MapFixedNoReplace = 0x100000;

    private static HashSet<nuint> ReadMappings() => [.. ProcessMappings.Read().Select(m => m.Start)];
}
