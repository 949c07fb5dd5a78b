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
/// Only sound for a memory whose pages were mapped afresh by this instantiation (not reused resident by the
/// pooling allocator): use it on an engine whose <see cref="EngineOptions.LinearMemoryKeepResident"/> is 0.
/// </summary>
public sealed unsafe class MemorySnapshot
{
    private static readonly Lazy<SafeFileHandle?> PageMap = new(OpenPageMap);
    private readonly byte[] _bytes;

    private MemorySnapshot(byte[] bytes) => _bytes = bytes;

    /// <summary>Bytes the memory had (and must still have for a restore).</summary>
    public int Length => _bytes.Length;

    /// <summary>True when the kernel lists written pages (<c>PAGEMAP_SCAN</c>); otherwise restores copy everything.</summary>
    public static bool PageScanAvailable => PageMap.Value is not null;

    /// <summary>
    /// Copies <paramref name="memory"/> as it is now, or returns the one of <paramref name="shared"/> holding the
    /// same bytes (instances of one module usually start identical: one copy serves them all).
    /// </summary>
    public static MemorySnapshot Capture(WasmMemory memory, StoreContext store, IEnumerable<MemorySnapshot>? shared = null)
    {
        var span = memory.GetSpan(store);
        if (shared is not null)
            foreach (var candidate in shared)
                if (span.SequenceEqual(candidate._bytes)) return candidate;
        // Uninitialized: every byte is written by the copy below.
        var bytes = GC.AllocateUninitializedArray<byte>(span.Length);
        span.CopyTo(bytes);
        return new MemorySnapshot(bytes);
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
        if (PageMap.Value is not { } pagemap || !RestoreWritten(pagemap, data))
            _bytes.CopyTo(new Span<byte>(data, _bytes.Length));
        return true;
    }

    // Copies back every region PAGEMAP_SCAN lists, scanning again from where it stopped when the region buffer fills.
    private bool RestoreWritten(SafeFileHandle pagemap, byte* data)
    {
        const int MaxRegions = 64;
        var regions = stackalloc PageRegion[MaxRegions];
        var end = (ulong)data + (ulong)_bytes.Length;
        var arg = new PmScanArg
        {
            Size = (ulong)sizeof(PmScanArg),
            Start = (ulong)data,
            End = end,
            Vec = (ulong)regions,
            VecLen = MaxRegions,
            // Wanted: present or swapped, and neither file-backed (an image page only read) nor the zero page.
            CategoryInverted = PageIsFile | PageIsPfnZero,
            CategoryMask = PageIsFile | PageIsPfnZero,
            CategoryAnyofMask = PageIsPresent | PageIsSwapped,
        };
        var fd = (int)pagemap.DangerousGetHandle();
        while (arg.Start < end)
        {
            var n = ioctl(fd, PagemapScan, &arg);
            if (n < 0) return false; // refused: the caller copies everything
            for (var i = 0; i < n; i++)
            {
                var offset = (int)(regions[i].Start - (ulong)data);
                var length = (int)(regions[i].End - regions[i].Start);
                _bytes.AsSpan(offset, length).CopyTo(new Span<byte>((byte*)regions[i].Start, length));
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
