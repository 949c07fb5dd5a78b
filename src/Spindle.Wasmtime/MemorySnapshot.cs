using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Spindle.Wasmtime;

/// <summary>
/// A copy of a linear memory taken right after instantiation, and the means to put the memory back to it after a
/// request by copying only the pages the guest wrote.
/// <para>
/// Why: resetting a 10 MB JavaScript engine image the way Wasmtime's pooling allocator does through the C API
/// costs either a copy of the whole image or a page fault per page the next request touches, and on a VM with
/// shadow page tables a fault costs 10–15 µs. The memory of a freshly instantiated module maps its image
/// copy-on-write, so the pages the guest wrote since are exactly the present pages that are neither file-backed
/// nor the shared zero page; Linux's <c>PAGEMAP_SCAN</c> (6.7+) lists them in one system call, without the
/// write-protect faults that tracking writes would cost. Those pages stay private after the copy and are listed
/// (and copied) after every later request too: the set is what the guest ever wrote, a few hundred KiB for a
/// JavaScript hello. Without <c>PAGEMAP_SCAN</c>, the whole memory is copied back.
/// </para>
/// Sound whatever the engine. Fast when the memory was mapped afresh for this instance (a pooling slot never used
/// before, or one released with <c>madvise</c>); a slot the allocator kept resident and reset by copying is
/// private throughout, so all of it counts as written and is copied back after every request (what the
/// allocator itself would have done for a fresh instance).
/// </summary>
public sealed unsafe class MemorySnapshot
{
    private static readonly Lazy<SafeFileHandle?> PageMap = new(OpenPageMap);
    private readonly byte[] _bytes;

    // The regions that were written (private) when the snapshot was taken: what instantiation wrote. Null when
    // the kernel cannot tell.
    private readonly (int Offset, int Length)[]? _written;

    private MemorySnapshot(byte[] bytes, (int, int)[]? written)
    {
        _bytes = bytes;
        _written = written;
    }

    /// <summary>Bytes the memory had (and must still have for a restore).</summary>
    public int Length => _bytes.Length;

    /// <summary>True when the kernel lists written pages (<c>PAGEMAP_SCAN</c>); otherwise restores copy everything.</summary>
    public static bool PageScanAvailable => PageMap.Value is not null;

    /// <summary>
    /// Copies <paramref name="memory"/> as it is now, or returns the one of <paramref name="shared"/> (snapshots
    /// of other instances of the same module in the same engine) holding the same bytes: instances of one module
    /// usually start identical, and one copy serves them all.
    /// </summary>
    /// <remarks>
    /// The comparison reads only the pages either instance had written when captured (by instantiation, or the
    /// pooling allocator's copy when it kept a slot resident): every other page of both memories is still the
    /// module's own image (or zero), so it cannot differ. That keeps a new instance from faulting in its whole
    /// memory (10–15 µs a page on some VMs, 30 ms for a JavaScript engine) just to be compared.
    /// </remarks>
    public static MemorySnapshot Capture(WasmMemory memory, StoreContext store, IEnumerable<MemorySnapshot>? shared = null)
    {
        var span = memory.GetSpan(store);
        var data = (byte*)memory.DataPointer(store);
        var written = new List<(int, int)>();
        var scanned = PageMap.Value is { } pagemap && Scan(pagemap, data, span.Length, written, null);
        if (shared is not null)
            foreach (var candidate in shared)
                if (candidate._bytes.Length == span.Length && (scanned && candidate._written is { } theirs
                        ? SameWhereWritten(span, candidate._bytes, written, theirs)
                        : span.SequenceEqual(candidate._bytes)))
                    return candidate;
        // Uninitialized: every byte is written by the copy below.
        var bytes = GC.AllocateUninitializedArray<byte>(span.Length);
        span.CopyTo(bytes);
        return new MemorySnapshot(bytes, scanned ? written.ToArray() : null);
    }

    // Equal bytes in every page either memory had written when scanned: every other page is the module's image (or
    // zero) in both.
    private static bool SameWhereWritten(Span<byte> memory, byte[] bytes, List<(int Offset, int Length)> ours, (int Offset, int Length)[] theirs)
    {
        var page = Environment.SystemPageSize;
        var marked = new bool[(bytes.Length + page - 1) / page];
        foreach (var (offset, length) in ours) marked.AsSpan(offset / page, length / page).Fill(true);
        foreach (var (offset, length) in theirs) marked.AsSpan(offset / page, length / page).Fill(true);
        for (var first = 0; first < marked.Length;)
        {
            if (!marked[first]) { first++; continue; }
            var end = first;
            while (end < marked.Length && marked[end]) end++;
            var offset = first * page;
            var length = Math.Min(end * page, bytes.Length) - offset;
            if (!memory.Slice(offset, length).SequenceEqual(bytes.AsSpan(offset, length))) return false;
            first = end;
        }
        return true;
    }

    /// <summary>
    /// Puts <paramref name="memory"/> back to the captured bytes. False (nothing changed) when the memory grew
    /// since: a wasm memory cannot shrink, so that instance cannot be reset.
    /// </summary>
    public bool TryRestore(WasmMemory memory, StoreContext store)
    {
        var size = memory.Size(store);
        if (size != (ulong)_bytes.Length) return false;
        var data = (byte*)memory.DataPointer(store);
        if (PageMap.Value is not { } pagemap || !Scan(pagemap, data, _bytes.Length, null, _bytes))
            _bytes.CopyTo(new Span<byte>(data, _bytes.Length));
        return true;
    }

    /// <summary>
    /// Lists the written regions of <paramref name="length"/> bytes at <paramref name="data"/> (present or swapped
    /// pages that are neither file-backed nor the zero page) into <paramref name="into"/> and/or copies them back
    /// from <paramref name="copyFrom"/>, scanning again from where the kernel stopped when the region buffer
    /// fills. False when the kernel refuses (the caller then treats every page as written).
    /// </summary>
    private static bool Scan(SafeFileHandle pagemap, byte* data, int length, List<(int, int)>? into, byte[]? copyFrom)
    {
        const int MaxRegions = 64;
        var regions = stackalloc PageRegion[MaxRegions];
        var end = (ulong)data + (ulong)length;
        var arg = new PmScanArg
        {
            Size = (ulong)sizeof(PmScanArg),
            Start = (ulong)data,
            End = end,
            Vec = (ulong)regions,
            VecLen = MaxRegions,
            CategoryInverted = PageIsFile | PageIsPfnZero,
            CategoryMask = PageIsFile | PageIsPfnZero,
            CategoryAnyofMask = PageIsPresent | PageIsSwapped,
        };
        var fd = (int)pagemap.DangerousGetHandle();
        while (arg.Start < end)
        {
            var n = ioctl(fd, PagemapScan, &arg);
            if (n < 0) return false;
            for (var i = 0; i < n; i++)
            {
                var offset = (int)(regions[i].Start - (ulong)data);
                var size = (int)(regions[i].End - regions[i].Start);
                into?.Add((offset, size));
                copyFrom?.AsSpan(offset, size).CopyTo(new Span<byte>((byte*)regions[i].Start, size));
            }
            arg.Start = arg.WalkEnd;
        }
        return true;
    }

    private static SafeFileHandle? OpenPageMap()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var handle = File.OpenHandle("/proc/self/pagemap", FileMode.Open, FileAccess.Read);
            // Probe with an empty range: old kernels answer ENOTTY.
            PageRegion region;
            var arg = new PmScanArg { Size = (ulong)sizeof(PmScanArg), Vec = (ulong)&region, VecLen = 1, MaxPages = 1, CategoryMask = PageIsFile | PageIsPresent };
            if (ioctl((int)handle.DangerousGetHandle(), PagemapScan, &arg) < 0) { handle.Dispose(); return null; }
            return handle;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    // linux/fs.h: _IOWR('f', 16, struct pm_scan_arg) and the page categories.
    private const ulong PagemapScan = 0xC0606610;
    private const ulong PageIsFile = 1 << 2, PageIsPresent = 1 << 3, PageIsSwapped = 1 << 4, PageIsPfnZero = 1 << 5;

    [StructLayout(LayoutKind.Sequential)]
    private struct PmScanArg
    {
        public ulong Size, Flags, Start, End, WalkEnd, Vec, VecLen, MaxPages, CategoryInverted, CategoryMask, CategoryAnyofMask, ReturnMask;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PageRegion
    {
        public ulong Start, End, Categories;
    }

    [DllImport("libc", SetLastError = true)] private static extern int ioctl(int fd, ulong request, PmScanArg* arg);
}
