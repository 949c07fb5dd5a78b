using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Interop;

/// <summary>
/// Why this exists: host functions are managed code, and Wasmtime runs them on its fiber stacks. The CoreCLR
/// stack walker orders explicit frames by address, assuming stacks grow down: the frames of the thread that
/// polled the future (its P/Invoke transition frame) must lie at HIGHER addresses than the managed frames
/// running on the fiber. When a fiber stack sits above the polling thread's stack, a GC during a host function
/// skips the fiber's managed frames, their object references are not reported, and the process later crashes
/// (observed: SIGSEGV / NullReferenceException inside the thread pool under GC pressure).
/// <para>
/// Two measures keep the order right: (1) on-demand engines get fiber stacks from this allocator, which
/// reserves them at a low address (below every thread stack on Linux); (2) pooling engines reserve their
/// pools while a large filler mapping pushes them below the space later thread stacks will use
/// (<see cref="AddressSpaceFiller"/>). <see cref="FiberGuard"/> verifies the order on every host call and
/// traps instead of running managed code when it is wrong.
/// </para>
/// </summary>
internal sealed unsafe class FiberStackAllocator
{
    private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20, MapNoReserve = 0x4000, MapFixedNoReplace = 0x100000;
    private const nuint Guard = 64 * 1024;
    private static readonly IntPtr MapFailed = new(-1);

    private readonly byte* _base;
    private readonly nuint _slotSize;
    private readonly nuint _stackSize;
    private readonly int _capacity;
    private readonly Stack<int> _free = new();
    private readonly object _lock = new();
    private int _used;

    private FiberStackAllocator(byte* @base, nuint stackSize, int capacity)
    {
        _base = @base;
        _stackSize = stackSize;
        _slotSize = stackSize + Guard;
        _capacity = capacity;
    }

    /// <summary>Reserves address space for <paramref name="capacity"/> stacks low in the address space (Linux only).</summary>
    public static FiberStackAllocator? TryCreate(nuint stackSize, int capacity)
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8) return null;
        stackSize = (stackSize + 0xFFFF) & ~(nuint)0xFFFF;
        var total = (stackSize + Guard) * (nuint)capacity;
        var step = (ulong)((total + 0x3FFF_FFFF) & ~(nuint)0x3FFF_FFFF); // whole GiBs
        // 16 TiB to 64 TiB: far below the mmap area (thread stacks, libraries) and above typical PIE/heap
        // ranges on 47-bit x86-64 and 48-bit arm64 address spaces. Engines pack next to each other.
        for (ulong hint = 0x1000_0000_0000UL; hint + step < 0x4000_0000_0000UL; hint += step)
        {
            var p = mmap((IntPtr)(long)hint, total, ProtNone, MapPrivate | MapAnonymous | MapNoReserve | MapFixedNoReplace, -1, 0);
            if (p == MapFailed) continue;
            if ((ulong)p != hint)
            {
                // Old kernels treat MAP_FIXED_NOREPLACE as a hint; only an exact placement is useful.
                munmap(p, total);
                continue;
            }
            return new FiberStackAllocator((byte*)p, stackSize, capacity);
        }
        return null;
    }

    private nuint Total => _slotSize * (nuint)_capacity;

    /// <summary>Called when the engine's config drops the creator: unmap once no stack is rented.</summary>
    private void Release()
    {
        lock (_lock)
        {
            _released = true;
            if (_rented == 0 && !_unmapped)
            {
                munmap((IntPtr)_base, Total);
                _unmapped = true;
            }
        }
    }

    private bool _released, _unmapped;
    private int _rented;

    /// <summary>Hands out a stack: returns its top (highest address) or null when all slots are in use.</summary>
    public byte* Rent(nuint size, bool zeroed, out nuint length)
    {
        length = 0;
        if (size > _stackSize) return null;
        int slot;
        bool reused = false;
        lock (_lock)
        {
            if (_unmapped) return null;
            if (_free.Count > 0) { slot = _free.Pop(); reused = true; }
            else if (_used < _capacity) slot = _used++;
            else return null;
            _rented++;
        }
        var stackLow = _base + (nuint)slot * _slotSize + Guard;
        // A reused stack holds old frames; dropping its pages makes it read back as zeros.
        if (reused && zeroed) madvise((IntPtr)stackLow, _stackSize, MadvDontNeed);
        // Fresh slots become readable/writable here; reused ones already are (the guard below stays PROT_NONE).
        if (mprotect((IntPtr)stackLow, _stackSize, ProtRead | ProtWrite) != 0)
        {
            lock (_lock) { _free.Push(slot); _rented--; }
            return null;
        }
        length = _stackSize;
        return stackLow + _stackSize;
    }

    public void Return(byte* top)
    {
        var slot = (int)(((nuint)top - (nuint)_base - Guard - _stackSize) / _slotSize);
        lock (_lock)
        {
            _free.Push(slot);
            _rented--;
        }
        if (_released) Release();
    }

    [DllImport("libc", SetLastError = true)] private static extern IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, nint offset);
    [DllImport("libc", SetLastError = true)] private static extern int munmap(IntPtr addr, nuint length);
    private const int MadvDontNeed = 4;
    [DllImport("libc", SetLastError = true)] private static extern int madvise(IntPtr addr, nuint length, int advice);
    [DllImport("libc", SetLastError = true)] private static extern int mprotect(IntPtr addr, nuint length, int prot);

    // ---- wasmtime_stack_creator_t glue ----

    [StructLayout(LayoutKind.Sequential)]
    private struct StackCreator
    {
        public IntPtr Env;
        public delegate* unmanaged<IntPtr, nuint, byte, StackMemory*, IntPtr> NewStack;
        public delegate* unmanaged<IntPtr, void> Finalizer;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct StackMemory
    {
        public IntPtr Env;
        public delegate* unmanaged<IntPtr, nuint*, byte*> GetStackMemory;
        public delegate* unmanaged<IntPtr, void> Finalizer;
    }

    /// <summary>Per-stack record handed to Wasmtime as the stack's env: read without touching managed objects.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct StackRecord
    {
        public byte* Top;
        public nuint Length;
        public IntPtr Allocator; // GCHandle
    }

    /// <summary>Installs this allocator as the config's host stack creator (used by the on-demand allocator).</summary>
    public void Install(IntPtr config)
    {
        var creator = new StackCreator
        {
            Env = GCHandle.ToIntPtr(GCHandle.Alloc(this)),
            NewStack = &NewStackCallback,
            Finalizer = &ReleaseAllocatorCallback,
        };
        wasmtime_config_host_stack_creator_set(config, &creator); // copies the struct
    }

    [DllImport("wasmtime")] private static extern void wasmtime_config_host_stack_creator_set(IntPtr config, StackCreator* creator);
    [DllImport("wasmtime")] private static extern IntPtr wasmtime_error_new(byte* message);

    [UnmanagedCallersOnly]
    private static IntPtr NewStackCallback(IntPtr env, nuint size, byte zeroed, StackMemory* result)
    {
        try
        {
            var allocator = (FiberStackAllocator)GCHandle.FromIntPtr(env).Target!;
            var top = allocator.Rent(size, zeroed != 0, out var length);
            if (top == null)
            {
                fixed (byte* m = "all fiber stacks are in use (or the requested stack size is too large)\0"u8)
                    return wasmtime_error_new(m);
            }
            var record = (StackRecord*)NativeMemory.Alloc((nuint)sizeof(StackRecord));
            record->Top = top;
            record->Length = length;
            record->Allocator = GCHandle.ToIntPtr(GCHandle.Alloc(allocator));
            result->Env = (IntPtr)record;
            result->GetStackMemory = &GetStackMemoryCallback;
            result->Finalizer = &ReleaseStackCallback;
            return IntPtr.Zero;
        }
        catch
        {
            fixed (byte* m = "fiber stack allocation failed\0"u8)
                return wasmtime_error_new(m);
        }
    }

    [UnmanagedCallersOnly]
    private static void ReleaseAllocatorCallback(IntPtr env)
    {
        try
        {
            var handle = GCHandle.FromIntPtr(env);
            ((FiberStackAllocator)handle.Target!).Release();
            handle.Free();
        }
        catch
        {
            // Never unwind into native code.
        }
    }

    [UnmanagedCallersOnly]
    private static byte* GetStackMemoryCallback(IntPtr env, nuint* length)
    {
        var record = (StackRecord*)env;
        *length = record->Length;
        return record->Top;
    }

    [UnmanagedCallersOnly]
    private static void ReleaseStackCallback(IntPtr env)
    {
        try
        {
            var record = (StackRecord*)env;
            var handle = GCHandle.FromIntPtr(record->Allocator);
            ((FiberStackAllocator)handle.Target!).Return(record->Top);
            handle.Free();
            NativeMemory.Free(record);
        }
        catch
        {
            // Never unwind into native code.
        }
    }
}

/// <summary>
/// Checks, on entry to every host function, that the fiber's stack lies below the stack of the thread that
/// polled it (see <see cref="FiberStackAllocator"/>). The polling helper records a marker address on the
/// thread's own stack first.
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

/// <summary>
/// Makes a pooling engine's up-front reservations (memories, tables, fiber stacks) land low: while the engine is
/// created, a large PROT_NONE mapping occupies the highest free gap, so the pools go below it; afterwards the
/// filler is released and threads created later get their stacks above the pools. Threads created by other code
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
                var maps = Mappings();
                maps.Sort();
                var stackStart = maps.FirstOrDefault(m => m.Name == "[stack]").Start;
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
            foreach (var (start, end, _) in Mappings())
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

    private static HashSet<nuint> ReadMappings() => [.. Mappings().Select(m => m.Start)];

    private static List<(nuint Start, nuint End, string Name)> Mappings()
    {
        var list = new List<(nuint, nuint, string)>();
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var dash = line.IndexOf('-');
                var space = line.IndexOf(' ');
                if (dash <= 0 || space <= dash) continue;
                var name = line.EndsWith("[stack]", StringComparison.Ordinal) ? "[stack]" : "";
                list.Add((nuint.Parse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber),
                          nuint.Parse(line.AsSpan(dash + 1, space - dash - 1), System.Globalization.NumberStyles.HexNumber), name));
            }
        }
        catch (IOException)
        {
        }
        return list;
    }
}

/// <summary>
/// For pooling engines: polls futures only on threads whose stacks lie above every fiber stack of the engine's
/// pool. A thread below it (created while the pools were being reserved) hands its polls to a dedicated thread
/// created afterwards, which lies above them.
/// </summary>
internal sealed unsafe class PollRouter : IDisposable
{
    private readonly nuint _fiberRegionTop;
    private readonly System.Collections.Concurrent.BlockingCollection<(IntPtr Future, TaskCompletionSource<bool> Done)> _work = new();
    private readonly Thread _thread;

    public PollRouter(nuint fiberRegionTop)
    {
        _fiberRegionTop = fiberRegionTop;
        _thread = new Thread(Run, maxStackSize: 4 * 1024 * 1024) { IsBackground = true, Name = "spindle-fiber-poller" };
        _thread.Start();
    }

    /// <summary>Whether the calling thread may poll directly.</summary>
    public bool CurrentThreadIsSafe() => FiberGuard.CurrentStackAddress() > _fiberRegionTop;

    public Task<bool> PollElsewhere(IntPtr future)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add((future, done));
        return done.Task;
    }

    private void Run()
    {
        foreach (var (future, done) in _work.GetConsumingEnumerable())
        {
            try
            {
                done.SetResult(FiberGuard.Poll(future));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }
}
