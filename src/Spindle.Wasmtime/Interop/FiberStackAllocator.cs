using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Interop;

/// <summary>
/// Fiber stacks for on-demand engines, reserved low in the address space (16–64 TiB, below every thread stack on
/// Linux) so that they satisfy the stack-order invariant documented on <see cref="FiberGuard"/>. Pooling engines
/// reserve their own stacks; <see cref="AddressSpaceFiller"/> places those low instead.
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
