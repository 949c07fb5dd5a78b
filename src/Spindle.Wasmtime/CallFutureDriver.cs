using System.Runtime.InteropServices;
using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>
/// Drives a <c>wasmtime_call_future_t</c> to completion from async code without blocking a thread:
/// each time a poll returns false, either a host task is pending (await it, then poll again, which lets
/// the continuation write the results) or the guest yielded on an epoch (yield to the pool, then poll).
/// Work host functions hand to <see cref="AfterPoll"/> runs right after the poll that collected it, on this thread.
/// Everything the future points to lives in one unmanaged block owned by <see cref="NativeCall"/>.
/// </summary>
internal static class CallFutureDriver
{
    public static async ValueTask DriveAsync(StoreState state, IntPtr future)
    {
        var cancellationToken = state.CancellationToken;
        var router = state.Router;
        while (true)
        {
            // Host functions may leave work for when the poll returns (AfterPoll): it runs below, on this thread's
            // own stack, instead of waking a pool thread.
            var (done, deferred) = router is null || router.CurrentThreadIsSafe()
                ? AfterPoll.Poll(future)
                : await router.PollElsewhereCollecting(future).ConfigureAwait(false);
            if (done)
            {
                AfterPoll.RunInline(deferred);
                break;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                // The caller deletes the future (unwinding the fiber); the store is unusable afterwards.
                state.Abandoned = true;
                AfterPoll.RunElsewhere(deferred);
                cancellationToken.ThrowIfCancellationRequested();
            }
            state.Suspending?.Invoke();
            var pending = state.PendingTask;
            if (deferred is not null)
            {
                // The guest waits while the deferred work runs (as when it ran on the pool: a chained callee's
                // time is not its caller's). If the work completed the pending task (a callee that answered at
                // once), the guest resumes below without a wake-up.
                var waiting = pending is { IsCompleted: false } ? state.WaitObserver : null;
                waiting?.WaitStarted();
                try { AfterPoll.RunInline(deferred); }
                finally { waiting?.WaitEnded(); }
            }
            if (pending is null)
                await Task.Yield(); // an epoch yield: let others run
            else if (!pending.IsCompleted)
            {
                var observer = state.WaitObserver;
                observer?.WaitStarted();
                try { await pending.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); }
                finally { observer?.WaitEnded(); }
            }
            // else: the host task is already done (deferred work may have finished it): poll again at once.
        }
    }

    public static async ValueTask<WasmValue[]> CallAsync(StoreState state, NativeCall call)
    {
        using (call)
        {
            await DriveAsync(state, call.Future).ConfigureAwait(false);
            return call.TakeResults();
        }
    }

    /// <summary>
    /// Starts an instantiation future with <paramref name="start"/> (given the call's slots and
    /// <paramref name="state"/>) while <paramref name="held"/> and <paramref name="alsoHeld"/> stay referenced, then
    /// drives it to the instance. A static <paramref name="start"/> with its state as a value keeps the per-request
    /// instantiation free of closures.
    /// </summary>
    public static ValueTask<WasmInstance> StartInstantiation<TState>(WasmStore store, SafeHandle held, SafeHandle? alsoHeld, TState state,
        Func<NativeCall, TState, IntPtr> start)
    {
        ArgumentNullException.ThrowIfNull(store);
        var call = new NativeCall(store, 0, 0);
        var refs = new HandleRefs();
        try
        {
            refs.Add(held);
            if (alsoHeld is not null) refs.Add(alsoHeld);
            call.Future = start(call, state);
        }
        catch
        {
            refs.Dispose();
            call.Dispose();
            throw;
        }
        return InstantiateAsync(store.State, call, refs);
    }

    private static async ValueTask<WasmInstance> InstantiateAsync(StoreState state, NativeCall call, HandleRefs refs)
    {
        using (refs)
        using (call)
        {
            await DriveAsync(state, call.Future).ConfigureAwait(false);
            return call.ReadInstance();
        }
    }
}

/// <summary>
/// One in-flight call/instantiation: an unmanaged block holding the slots a future references
/// (func/instance, args, results, trap and error out-pointers), kept until the future is deleted.
/// </summary>
internal sealed unsafe class NativeCall : IDisposable
{
    private readonly WasmStore _store;
    private bool _storeRef;
    private byte* _block;
    public IntPtr Future;

    public WasmInstance* Instance => (WasmInstance*)_block;         // 16 bytes @0 (instantiate)
    public WasmFunc* Func => (WasmFunc*)_block;                     // 16 bytes @0 (call)
    public IntPtr* TrapSlot => (IntPtr*)(_block + 16);              // @16
    public IntPtr* ErrorSlot => (IntPtr*)(_block + 24);             // @24
    public WasmValue* Args => (WasmValue*)(_block + 32);            // @32
    public WasmValue* Results => Args + ArgCount;
    public int ArgCount { get; }
    public int ResultCount { get; }

    public NativeCall(WasmStore store, int argCount, int resultCount)
    {
        _store = store;
        ArgCount = argCount;
        ResultCount = resultCount;
        store.State.Enter();
        store.State.AsyncUsed = true;
        try
        {
            store.Handle.DangerousAddRef(ref _storeRef);
        }
        catch
        {
            store.State.Exit();
            throw;
        }
        var size = 32 + (nuint)(argCount + resultCount) * (nuint)sizeof(WasmValue);
        _block = (byte*)NativeMemory.AllocZeroed(size);
    }

    public IntPtr Context => _store.Context;

    /// <summary>Throws the trap or error the future reported, if any (freeing the native objects).</summary>
    public void ThrowIfFailed()
    {
        var trap = *TrapSlot;
        var error = *ErrorSlot;
        *TrapSlot = IntPtr.Zero;
        *ErrorSlot = IntPtr.Zero;
        var hostFault = _store.State.TakeHostFault();
        if (trap != IntPtr.Zero)
        {
            if (error != IntPtr.Zero) Native.wasmtime_error_delete(error);
            throw NativeErrors.FromTrap(trap, hostFault);
        }
        if (error != IntPtr.Zero) throw NativeErrors.FromError(error, inner: hostFault);
    }

    public WasmValue[] TakeResults()
    {
        ThrowIfFailed();
        if (ResultCount == 0) return []; // most exports and every post-return: no array per call
        var results = new WasmValue[ResultCount];
        for (int i = 0; i < results.Length; i++)
        {
            var v = Results + i;
            if (v->Kind is WasmValueKind.I32 or WasmValueKind.I64 or WasmValueKind.F32 or WasmValueKind.F64
                or WasmValueKind.V128 or WasmValueKind.FuncRef)
            {
                results[i] = *v;
            }
            else
            {
                // GC references are rooted in the store; this layer hands out only nulls.
                var kind = v->Kind;
                Native.wasmtime_val_unroot(v);
                results[i] = WasmValue.Default(kind == WasmValueKind.ExternRef ? WasmValueKind.ExternRef : kind);
            }
        }
        return results;
    }


    public WasmInstance ReadInstance()
    {
        ThrowIfFailed();
        return *Instance;
    }

    public void Dispose()
    {
        if (Future != IntPtr.Zero)
        {
            Native.wasmtime_call_future_delete(Future);
            Future = IntPtr.Zero;
        }
        if (_block != null)
        {
            // Free anything a failed or abandoned future left behind.
            if (*TrapSlot != IntPtr.Zero) Native.wasm_trap_delete(*TrapSlot);
            if (*ErrorSlot != IntPtr.Zero) Native.wasmtime_error_delete(*ErrorSlot);
            NativeMemory.Free(_block);
            _block = null;
        }
        if (_storeRef)
        {
            _store.Handle.DangerousRelease();
            _storeRef = false;
        }
        _store.State.Exit();
    }
}
