using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Spindle.Wasmtime;

/// <summary>
/// Pre-faults, for writing, the pages of a large linear memory that earlier instances of the same code wrote.
/// <para>
/// Why: with the pooling allocator, a fresh instance maps its module's memory image copy-on-write. A page the
/// guest reads and then writes faults twice, and the second fault must flush the first, read-only mapping from
/// every CPU that runs the process: a TLB-shootdown interrupt per page. In a VM each of those interrupts traps to
/// the hypervisor; for a 12 MB JavaScript engine image they were most of a request's CPU time.
/// <c>madvise(MADV_POPULATE_WRITE)</c> on pages not yet mapped makes the private copies in one system call per
/// range, with nothing to flush. Which pages: the union of those the first few instances left written, read from
/// <c>/proc/self/pagemap</c> (present and private = written by the guest).
/// </para>
/// Linux only; elsewhere, or when the kernel refuses, it does nothing. Thread-safe.
/// </summary>
public sealed unsafe class MemoryWarmup
{
    private const int MadvPopulateWrite = 23; // Linux 5.14+
    private const ulong PagePresent = 1UL << 63, PageFileOrShared = 1UL << 61;
    private static readonly int PageSize = Environment.SystemPageSize;
    private static readonly Lazy<SafeFileHandle?> PageMap = new(OpenPageMap);

    // A guest whose first calls write more than this would make every later instance copy it all: leave it alone.
    private const long MaxWarmBytes = 8 << 20;

    private readonly int _learnCalls;
    private readonly ulong _minimumSize;
    private readonly object _lock = new();
    private ulong[] _hot = [];           // bitmap of written pages, relative to the memory's start
    private (nuint Offset, nuint Length)[] _ranges = [];
    private int _learned;
    private volatile bool _disabled;

    /// <param name="learnCalls">How many instances to learn the written pages from.</param>
    /// <param name="minimumSize">Smaller memories are left alone (they are reset by memset and stay resident).</param>
    public MemoryWarmup(int learnCalls = 8, ulong minimumSize = 1 << 20)
    {
        _learnCalls = learnCalls;
        _minimumSize = minimumSize;
        _disabled = !OperatingSystem.IsLinux();
    }

    /// <summary>True while instances still report the pages they wrote (<see cref="Learn"/>).</summary>
    public bool Learning => !_disabled && Volatile.Read(ref _learned) < _learnCalls;

    /// <summary>False once there is nothing left to learn or pre-fault (callers can skip looking the memory up).</summary>
    public bool HasWork => !_disabled && (_ranges.Length > 0 || Learning);

    /// <summary>Number of page ranges pre-faulted per instance (for diagnostics).</summary>
    public int RangeCount => _ranges.Length;

    /// <summary>Pre-faults the learned pages of <paramref name="memory"/> (call before the guest runs).</summary>
    public void Prefault(WasmMemory memory, StoreContext store)
    {
        var ranges = _ranges;
        if (ranges.Length == 0 || _disabled) return;
        var size = memory.Size(store);
        if (size < _minimumSize) return;
        var data = (byte*)memory.DataPointer(store);
        foreach (var (offset, length) in ranges)
        {
            if ((ulong)offset + length > size) continue;
            if (madvise(data + offset, length, MadvPopulateWrite) != 0)
            {
                // Old kernel (EINVAL) or out of memory (the guest's own faults will report it): stop trying.
                _disabled = true;
                return;
            }
        }
    }

    /// <summary>Records which pages of <paramref name="memory"/> the guest wrote (call after the guest ran, before the store ends).</summary>
    public void Learn(WasmMemory memory, StoreContext store)
    {
        if (!Learning || PageMap.Value is not { } pagemap) return;
        var size = memory.Size(store);
        if (size < _minimumSize)
        {
            // Still counts as a call learned from: a memory that stays small ends its learning like any other.
            Interlocked.Increment(ref _learned);
            return;
        }
        var start = (ulong)memory.DataPointer(store);
        var pages = (int)(size / (ulong)PageSize);
        var entries = new ulong[pages];
        var bytes = MemoryMarshal.AsBytes(entries.AsSpan());
        try
        {
            if (RandomAccess.Read(pagemap, bytes, (long)(start / (ulong)PageSize * 8)) != bytes.Length) return;
        }
        catch (IOException) { _disabled = true; return; }
        lock (_lock)
        {
            if (_hot.Length * 64 < pages) Array.Resize(ref _hot, (pages + 63) / 64);
            for (var i = 0; i < pages; i++)
                if ((entries[i] & (PagePresent | PageFileOrShared)) == PagePresent)
                    _hot[i / 64] |= 1UL << (i % 64);
            var ranges = Coalesce(_hot, pages);
            if (ranges.Sum(r => (long)r.Item2) > MaxWarmBytes) { _disabled = true; _ranges = []; return; }
            _ranges = ranges;
            Interlocked.Increment(ref _learned);
        }
    }

    // Runs of written pages; gaps of up to two pages are filled in (a page copy costs less than a system call).
    private static (nuint, nuint)[] Coalesce(ulong[] hot, int pages)
    {
        var ranges = new List<(nuint, nuint)>();
        int start = -1, end = -1;
        for (var i = 0; i < pages; i++)
        {
            if ((hot[i / 64] & (1UL << (i % 64))) == 0) continue;
            if (start >= 0 && i - end <= 3) { end = i; continue; }
            if (start >= 0) ranges.Add(((nuint)(start * PageSize), (nuint)((end - start + 1) * PageSize)));
            start = end = i;
        }
        if (start >= 0) ranges.Add(((nuint)(start * PageSize), (nuint)((end - start + 1) * PageSize)));
        return ranges.ToArray();
    }

    private static SafeFileHandle? OpenPageMap()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try { return File.OpenHandle("/proc/self/pagemap", FileMode.Open, FileAccess.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    [DllImport("libc", SetLastError = true)] private static extern int madvise(void* addr, nuint length, int advice);
}
