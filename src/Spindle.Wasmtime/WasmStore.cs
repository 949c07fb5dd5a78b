using System.Runtime.InteropServices;
using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>
/// A Wasmtime store: the unit of isolation that owns instances, memories and host state for one request.
/// <para>
/// Threading: a store may move between threads (awaits resume on pool threads) but must never be used by
/// two threads at once. Only one call or instantiation may be in flight per store; a second one throws
/// <see cref="InvalidOperationException"/>. A trap or host error poisons the store: dispose it and use a new one.
/// </para>
/// <para>
/// Epoch deadline: the engine has epoch interruption on, and a store with deadline 0 traps at once, so a new
/// store starts with a very large deadline. Set a real one with <see cref="SetEpochDeadline"/> (see
/// <see cref="WasmEngine.ExecutionTicksFor"/>).
/// </para>
/// </summary>
public sealed class WasmStore : IDisposable
{
    /// <summary>The deadline a new store starts with (effectively no limit: years at 10 ms per tick).</summary>
    public const ulong DefaultEpochDeadline = 1UL << 40;

    private readonly StoreHandle _handle;

    /// <summary>Creates a store in <paramref name="engine"/> carrying <paramref name="data"/> for host functions.</summary>
    public unsafe WasmStore(WasmEngine engine, object? data = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Engine = engine;
        State = new StoreState(data) { Router = engine.Router };
        var gch = GCHandle.Alloc(State);
        // Wasmtime frees the GCHandle through the finalizer when the native store is deleted.
        var store = Native.wasmtime_store_new(engine.Handle, GCHandle.ToIntPtr(gch), &GCHandleFinalizer.Free);
        if (store == IntPtr.Zero)
        {
            gch.Free();
            throw new WasmtimeException("wasmtime_store_new failed");
        }
        _handle = new StoreHandle(store);
        _context = Native.wasmtime_store_context(store);
        Native.wasmtime_context_set_epoch_deadline(_context, DefaultEpochDeadline);
        if (engine.Options.StoreMemoryLimit is { } limit) SetLimiter(memorySize: limit);
    }

    private readonly IntPtr _context;

    /// <summary>The engine the store belongs to.</summary>
    public WasmEngine Engine { get; }

    /// <summary>
    /// The user data given at creation (reachable from host functions as <c>caller.Data</c>); replaced when a
    /// store is reused for another request.
    /// </summary>
    public object? Data { get => State.Data; set => State.Data = value; }

    /// <summary>A slot for a library layered on top of this one (the component runtime's per-store state), visible to host functions as <see cref="HostCaller.Extension"/>.</summary>
    public object? Extension { get => State.Extension; set => State.Extension = value; }

    /// <summary>The raw <c>wasmtime_context_t*</c> (stable for the store's life). Throws once disposed.</summary>
    public IntPtr Context
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _context;
        }
    }

    internal StoreState State { get; }

    internal StoreHandle Handle => _handle;

    /// <summary>
    /// Cancels the store's current and future calls/instantiations (e.g. the request's abort token). A cancelled
    /// operation stops at its next suspension point (a pending async host call or an epoch yield; use the epoch
    /// deadline for guest code that never suspends), deletes its future and throws
    /// <see cref="OperationCanceledException"/>. The store is then unusable: dispose it. Pending host tasks keep
    /// running, but their <see cref="HostCallerInfo"/> becomes unusable.
    /// </summary>
    public CancellationToken CancellationToken
    {
        get => State.CancellationToken;
        set => State.CancellationToken = value;
    }

    /// <summary>
    /// Called on the driving thread each time a call or instantiation of this store suspends: the guest waits on
    /// a pending async host task, or yields on an epoch. Embedders use it to act on what the guest did since it
    /// last ran (for example, send the response it has set so far) instead of racing with it while it runs.
    /// </summary>
    public Action? Suspending { get => State.Suspending; set => State.Suspending = value; }

    /// <summary>
    /// Told when a call or instantiation of this store starts and stops waiting on a pending async host task (its
    /// fiber parked, using no CPU), as opposed to running or yielding on an epoch. Admission control counts the
    /// guests that run, not those that wait.
    /// </summary>
    public IGuestWaitObserver? WaitObserver { get => State.WaitObserver; set => State.WaitObserver = value; }

    /// <summary>Guest code traps with "interrupt" once the engine's epoch passes now + <paramref name="ticks"/>.</summary>
    public void SetEpochDeadline(ulong ticks) => Native.wasmtime_context_set_epoch_deadline(Context, ticks);

    /// <summary>
    /// Instead of trapping when the deadline passes, guest code yields to the async caller and the deadline
    /// moves <paramref name="delta"/> ticks further (cooperative time slicing; it never traps on epochs afterwards).
    /// </summary>
    public unsafe void EpochDeadlineAsyncYieldAndUpdate(ulong delta)
    {
        // The delta travels as the callback's data pointer: no managed state, nothing to free.
        Native.wasmtime_store_epoch_deadline_callback(_handle.Ptr, &YieldAndUpdate, (IntPtr)(nint)delta, null);
    }

    /// <summary>
    /// Time slicing: guest code yields to its async caller every <paramref name="sliceTicks"/> epoch ticks instead
    /// of running until it waits or returns, so a busy guest gives its thread back (Kestrel's I/O and other requests
    /// run between its slices) and its caller can check a wall-clock deadline (the store's
    /// <see cref="CancellationToken"/>) at every slice. Epochs then never trap.
    /// </summary>
    public void ShareCpu(ulong sliceTicks = 1)
    {
        SetEpochDeadline(sliceTicks);
        EpochDeadlineAsyncYieldAndUpdate(sliceTicks);
    }

    /// <summary>
    /// Nested guest calls running on this thread (<see cref="NestedCall"/>): their fiber holds managed frames of the
    /// host function that made them, and a fiber suspended with managed frames may resume on another thread, which
    /// the runtime cannot survive. An epoch reached inside one re-arms the deadline instead of yielding; the guest
    /// yields at the next slice boundary outside it.
    /// </summary>
    [ThreadStatic]
    internal static int NestedCallDepth;

    [UnmanagedCallersOnly]
    private static unsafe IntPtr YieldAndUpdate(IntPtr context, IntPtr data, ulong* delta, byte* updateKind)
    {
        *delta = (ulong)(nint)data;
        *updateKind = NestedCallDepth > 0 ? (byte)0 : (byte)1; // WASMTIME_UPDATE_DEADLINE_CONTINUE : _YIELD
        return IntPtr.Zero;
    }

    /// <summary>
    /// Caps resources (<c>wasmtime_store_limiter</c>); a negative value keeps Wasmtime's default. Limits apply
    /// to later growth and instantiation only.
    /// </summary>
    public void SetLimiter(long memorySize = -1, long tableElements = -1, long instances = -1, long tables = -1, long memories = -1) =>
        Native.wasmtime_store_limiter(_handle.Ptr, memorySize, tableElements, instances, tables, memories);

    /// <summary>Deletes the native store (and every instance in it).</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>
/// Per-store managed state reached from host trampolines through <c>wasmtime_context_get_data</c>.
/// </summary>
internal sealed class StoreState(object? data)
{
    public object? Data { get; set; } = data;

    /// <summary>The engine's poll router (pooling engines), or null.</summary>
    public PollRouter? Router { get; init; }

    /// <summary>A slot for a library layered on top (Spindle.Components keeps its per-store instance state here).</summary>
    public object? Extension;

    /// <summary>See <see cref="WasmStore.Suspending"/>.</summary>
    public Action? Suspending;

    /// <summary>See <see cref="WasmStore.WaitObserver"/>.</summary>
    public IGuestWaitObserver? WaitObserver;

    /// <summary>The host task the current call future waits on (set by the async trampoline).</summary>
    public volatile Task? PendingTask;

    /// <summary>The first exception raised by a host function during the current operation.</summary>
    public Exception? HostFault;

    private int _busy;

    public CancellationToken CancellationToken;

    /// <summary>Set by the first async call or instantiation: Wasmtime then refuses the synchronous entry points.</summary>
    public bool AsyncUsed;

    /// <summary>Set when a cancelled call's future was deleted mid-flight; the store must not run wasm again.</summary>
    public volatile bool Abandoned;

    public void Enter()
    {
        if (Abandoned)
            throw new InvalidOperationException("A cancelled call abandoned this WasmStore mid-execution; dispose it.");
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("This WasmStore is already running a call or instantiation; a store may run one at a time.");
        HostFault = null;
        PendingTask = null;
    }

    public void Exit()
    {
        PendingTask = null;
        Volatile.Write(ref _busy, 0);
    }

    public Exception? TakeHostFault()
    {
        var f = HostFault;
        HostFault = null;
        return f;
    }

    public static StoreState FromContext(IntPtr context)
    {
        var data = Native.wasmtime_context_get_data(context);
        return (StoreState)GCHandle.FromIntPtr(data).Target!;
    }
}
