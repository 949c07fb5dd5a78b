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
        // 16 TiB and up: far below the mmap area (thread stacks, libraries) and above typical PIE/heap ranges
        // on 47-bit x86-64 and 48-bit arm64 address spaces.
        for (ulong hint = 0x1000_0000_0000UL; hint < 0x4000_0000_0000UL; hint += 0x100_0000_0000UL)
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

    /// <summary>Hands out a stack: returns its top (highest address) or null when all slots are in use.</summary>
    public byte* Rent(nuint size, bool zeroed, out nuint length)
    {
        length = 0;
        if (size > _stackSize) return null;
        int slot;
        bool reused = false;
        lock (_lock)
        {
            if (_free.Count > 0) { slot = _free.Pop(); reused = true; }
            else if (_used < _capacity) slot = _used++;
            else return null;
        }
        var stackLow = _base + (nuint)slot * _slotSize + Guard;
        // A reused stack holds old frames; dropping its pages makes it read back as zeros.
        if (reused && zeroed) madvise((IntPtr)stackLow, _stackSize, MadvDontNeed);
        // Fresh slots become readable/writable here; reused ones already are (the guard below stays PROT_NONE).
        if (mprotect((IntPtr)stackLow, _stackSize, ProtRead | ProtWrite) != 0)
        {
            lock (_lock) _free.Push(slot);
            return null;
        }
        length = _stackSize;
        return stackLow + _stackSize;
    }

    public void Return(byte* top)
    {
        var slot = (int)(((nuint)top - (nuint)_base - Guard - _stackSize) / _slotSize);
        lock (_lock) _free.Push(slot);
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
            Finalizer = &GCHandleFinalizer.Free,
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

    /// <summary>True when managed code may run here: we are below the polling thread's frames (or not on a fiber we drive).</summary>
    public static bool StackOrderIsSafe()
    {
        byte here = 0;
        var marker = t_threadStackMarker;
        return marker == 0 || (nuint)(&here) < marker;
    }

    /// <summary>An owned trap for Wasmtime, built without allocating managed memory.</summary>
    public static IntPtr UnsafeStackTrap()
    {
        var message = "host function refused to run: Wasmtime placed the fiber stack above the polling thread's stack, where a .NET GC could miss its frames (use an on-demand engine, or create the pooling engine before the threads that poll it)"u8;
        fixed (byte* m = message) return Native.wasmtime_trap_new(m, (nuint)message.Length);
    }
}

/// <summary>
/// Makes a pooling engine's up-front reservations (memories, tables, fiber stacks) land low: while the engine is
/// created, a large PROT_NONE mapping occupies the highest free gap, so the pools go below it; afterwards the
/// filler is released and threads created later get their stacks above the pools.
/// </summary>
internal static unsafe class AddressSpaceFiller
{
    [DllImport("libc")] private static extern IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, nint offset);
    [DllImport("libc")] private static extern int munmap(IntPtr addr, nuint length);

    public static T While<T>(Func<T> create)
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8) return create();
        IntPtr filler = IntPtr.Zero;
        nuint size = 0;
        for (int tib = 32; tib >= 1; tib /= 2)
        {
            size = (nuint)tib << 40;
            var p = mmap(IntPtr.Zero, size, 0, 0x02 | 0x20 | 0x4000, -1, 0);
            if (p != new IntPtr(-1)) { filler = p; break; }
        }
        try
        {
            return create();
        }
        finally
        {
            if (filler != IntPtr.Zero) munmap(filler, size);
        }
    }
}
