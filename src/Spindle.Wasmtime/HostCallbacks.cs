using System.Runtime.InteropServices;
using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>
/// A synchronous host function. <paramref name="args"/> and <paramref name="results"/> point straight into
/// Wasmtime's buffers (results come pre-filled with zeros of the declared kinds). Throwing makes the guest
/// trap with the exception's message; the caller of the wasm export then gets a <see cref="WasmTrapException"/>
/// whose InnerException is the thrown exception.
/// </summary>
public delegate void SyncHostCallback(ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results);

/// <summary>
/// An async host function: the guest's fiber is suspended until the returned task completes; then
/// <paramref name="results"/> (pre-filled with zeros of the declared kinds) are handed to the guest.
/// A faulted task makes the guest trap (as for <see cref="SyncHostCallback"/>). <paramref name="caller"/>
/// is usable until the task completes.
/// </summary>
public delegate ValueTask AsyncHostCallback(HostCallerInfo caller, WasmValue[] args, WasmValue[] results);

/// <summary>The on-fiber completion step of an async host function (see <see cref="HostCallerInfo.OnCompleted"/>).</summary>
public delegate void HostCompletion(ref HostCaller caller, Span<WasmValue> results);

/// <summary>The calling instance as seen by a synchronous host function (valid only during the call).</summary>
public readonly unsafe ref struct HostCaller
{
    private readonly IntPtr _caller;
    private readonly IntPtr _context;
    private readonly StoreState _state;

    internal HostCaller(IntPtr caller, IntPtr context, StoreState state)
    {
        _caller = caller;
        _context = context;
        _state = state;
    }

    /// <summary>The store's user data (<see cref="WasmStore.Data"/>).</summary>
    public object? Data => _state.Data;

    /// <summary>The store context, for memory/table/global access.</summary>
    public StoreContext Context => new(_context);

    /// <summary>The store's <see cref="WasmStore.Extension"/> slot.</summary>
    public object? Extension => _state.Extension;

    /// <summary>An export of the calling instance (Wasmtime resolves memories and functions), or null.</summary>
    public WasmExtern? GetExport(string name) => HostCallerInfo.CallerExport(_caller, name);

    /// <summary>The calling instance's exported memory, or null.</summary>
    public WasmMemory? GetMemory(string name = "memory") => GetExport(name)?.Memory;

    /// <summary>
    /// Calls a wasm function of the same store re-entrantly from inside this host call (e.g. the guest's
    /// <c>cabi_realloc</c> while lowering a result). Runs synchronously on the current fiber after checking the
    /// signature (<see cref="NestedCall.CallChecked"/>). A trap in the nested call throws <see cref="WasmTrapException"/>.
    /// </summary>
    public void Call(WasmFunc func, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        Spindle.Wasmtime.NestedCall.CallChecked(new StoreContext(_context), func, args, results);
}

/// <summary>The calling instance as seen by an async host function (valid until its task completes).</summary>
public sealed unsafe class HostCallerInfo
{
    private IntPtr _caller;
    private readonly IntPtr _context;
    private readonly StoreState _state;

    internal HostCallerInfo(IntPtr caller, IntPtr context, StoreState state)
    {
        _caller = caller;
        _context = context;
        _state = state;
    }

    /// <summary>The store's user data (<see cref="WasmStore.Data"/>).</summary>
    public object? Data => _state.Data;

    /// <summary>The store context, for memory/table/global access.</summary>
    public StoreContext Context => new(Live);

    /// <summary>The store's <see cref="WasmStore.Extension"/> slot.</summary>
    public object? Extension => _state.Extension;

    /// <summary>
    /// Set by an async host function before its task completes: runs on the guest's fiber once the task has
    /// completed, before the results go to the guest, with a live caller (so it may call back into the guest,
    /// for example a realloc to lower the results).
    /// </summary>
    public HostCompletion? OnCompleted { get; set; }

    internal void RunCompletion(Span<WasmValue> results)
    {
        var done = OnCompleted;
        if (done is null) return;
        OnCompleted = null;
        var hc = new HostCaller(_caller, _context, _state);
        done(ref hc, results);
    }

    /// <summary>An export of the calling instance, or null.</summary>
    public WasmExtern? GetExport(string name)
    {
        _ = Live;
        return CallerExport(_caller, name);
    }

    /// <summary>The calling instance's exported memory, or null.</summary>
    public WasmMemory? GetMemory(string name = "memory") => GetExport(name)?.Memory;

    /// <summary>
    /// Calls a wasm function of the same store re-entrantly, from anywhere in the async host function (also after
    /// an await, off the guest's fiber): the call runs as a future of its own, on a second fiber (with pooling it
    /// takes a second stack slot, see <see cref="EngineOptions.TotalStacks"/>; without pooling it maps a stack).
    /// Prefer <see cref="OnCompleted"/> + <see cref="HostCaller.Call"/> for hot paths.
    /// </summary>
    public void Call(WasmFunc func, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        CallOnOwnFiber(Live, _state.Router, func, args, results);

    internal static void CallOnOwnFiber(IntPtr context, PollRouter? router, WasmFunc func, ReadOnlySpan<WasmValue> args, Span<WasmValue> results)
    {
        foreach (var a in args)
            if (!a.IsSafeForWasmtime) throw new ArgumentException($"argument kind {a.Kind} is not supported", nameof(args));
        // The store requires the async entry points, so the nested call is a future of its own; it is
        // polled to completion right here (a yield just polls again: the outer fiber cannot await).
        IntPtr trap = IntPtr.Zero;
        IntPtr error = IntPtr.Zero;
        fixed (WasmValue* pa = args)
        fixed (WasmValue* pr = results)
        {
            var future = Native.wasmtime_func_call_async(context, &func, pa, (nuint)args.Length, pr, (nuint)results.Length, &trap, &error);
            // Nobody returns to a driver between these polls: work the nested guest hands to AfterPoll goes to the pool.
            var outer = AfterPoll.Refuse();
            try
            {
                // Synchronous by nature: a thread below the engine's fiber stacks waits for the safe poller.
                while (!(router is null || router.CurrentThreadIsSafe()
                           ? FiberGuard.Poll(future)
                           : router.PollElsewhere(future).GetAwaiter().GetResult()))
                    Thread.Yield();
            }
            finally
            {
                AfterPoll.Close(outer);
                Native.wasmtime_call_future_delete(future);
            }
        }
        if (trap != IntPtr.Zero)
        {
            if (error != IntPtr.Zero) Native.wasmtime_error_delete(error);
            throw NativeErrors.FromTrap(trap);
        }
        NativeErrors.Check(error, "nested call from host function");
    }

    private IntPtr Live => _caller != IntPtr.Zero
        ? _context
        : throw new InvalidOperationException("The host call has completed; its caller can no longer be used.");

    internal void Invalidate() => _caller = IntPtr.Zero;

    internal static WasmExtern? CallerExport(IntPtr caller, string name)
    {
        var bytes = Utf8.Bytes(name);
        WasmtimeExtern item;
        fixed (byte* p = bytes)
        {
            if (Native.wasmtime_caller_export_get(caller, p, (nuint)bytes.Length, &item) == 0) return null;
        }
        return new WasmExtern(item);
    }
}

/// <summary>
/// The <c>[UnmanagedCallersOnly]</c> entry points Wasmtime calls for host functions. Each catches every
/// exception: nothing may unwind into native frames (or across a fiber switch).
/// </summary>
internal static unsafe class HostTrampolines
{
    /// <summary>What a host function's GCHandle points to: its callback and the result kinds it must produce.</summary>
    internal sealed class Entry<TCallback>(TCallback callback, WasmFuncType type) where TCallback : Delegate
    {
        public readonly TCallback Callback = callback;
        public readonly WasmValueKind[] Results = type.Results.ToArray();
    }

    private sealed class PendingHostCall
    {
        public required Task Task;
        public required WasmValue[] ManagedResults;
        public required WasmValue* NativeResults;
        public required IntPtr* TrapRet;
        public required Entry<AsyncHostCallback> Entry;
        public required StoreState State;
        public required HostCallerInfo Caller;
    }

    [UnmanagedCallersOnly]
    public static IntPtr Sync(IntPtr env, IntPtr caller, WasmValue* args, nuint nargs, WasmValue* results, nuint nresults)
    {
        if (!FiberGuard.StackOrderIsSafe()) return FiberGuard.UnsafeStackTrap();
        StoreState? state = null;
        try
        {
            var entry = (Entry<SyncHostCallback>)GCHandle.FromIntPtr(env).Target!;
            var context = Native.wasmtime_caller_context(caller);
            state = StoreState.FromContext(context);
            var resultSpan = new Span<WasmValue>(results, (int)nresults);
            Prefill(resultSpan, entry.Results);
            var hc = new HostCaller(caller, context, state);
            entry.Callback(ref hc, new ReadOnlySpan<WasmValue>(args, (int)nargs), resultSpan);
            var problem = CheckResults(resultSpan, entry.Results);
            if (problem != null)
            {
                Prefill(resultSpan, entry.Results);
                return Fault(state, new WasmTrapException(problem));
            }
            return IntPtr.Zero;
        }
        catch (Exception e)
        {
            return Fault(state, e);
        }
    }

    [UnmanagedCallersOnly]
    public static void Async(IntPtr env, IntPtr caller, WasmValue* args, nuint nargs, WasmValue* results, nuint nresults,
        IntPtr* trapRet, AsyncContinuation* continuation)
    {
        // A continuation must always be installed: Wasmtime panics (aborting the process) on the default one.
        continuation->Callback = &Completed;
        continuation->Env = IntPtr.Zero;
        continuation->Finalizer = null;
        if (!FiberGuard.StackOrderIsSafe())
        {
            *trapRet = FiberGuard.UnsafeStackTrap();
            return;
        }
        StoreState? state = null;
        HostCallerInfo? info = null;
        try
        {
            var entry = (Entry<AsyncHostCallback>)GCHandle.FromIntPtr(env).Target!;
            var context = Native.wasmtime_caller_context(caller);
            state = StoreState.FromContext(context);
            info = new HostCallerInfo(caller, context, state);
            var managedArgs = new ReadOnlySpan<WasmValue>(args, (int)nargs).ToArray();
            WasmValue[] managedResults = nresults == 0 ? [] : new WasmValue[(int)nresults];
            Prefill(managedResults, entry.Results);

            var pending = entry.Callback(info, managedArgs, managedResults);
            if (pending.IsCompleted)
            {
                pending.GetAwaiter().GetResult(); // throws the callback's exception, if any
                info.RunCompletion(managedResults);
                info.Invalidate();
                WriteResults(state, managedResults, results, entry.Results, trapRet);
                return;
            }

            var call = new PendingHostCall
            {
                Task = pending.AsTask(),
                ManagedResults = managedResults,
                NativeResults = results,
                TrapRet = trapRet,
                Entry = entry,
                State = state,
                Caller = info,
            };
            var handle = GCHandle.Alloc(call);
            continuation->Env = GCHandle.ToIntPtr(handle);
            continuation->Finalizer = &ReleasePending;
            continuation->Callback = &PollPending;
            state.PendingTask = call.Task;
        }
        catch (Exception e)
        {
            info?.Invalidate();
            *trapRet = Fault(state, e);
        }
    }

    [UnmanagedCallersOnly]
    private static byte Completed(IntPtr env) => 1;

    /// <summary>Continuation finalizer: the future is gone (done or deleted), so the caller pointer dies with it.</summary>
    [UnmanagedCallersOnly]
    private static void ReleasePending(IntPtr env)
    {
        try
        {
            var handle = GCHandle.FromIntPtr(env);
            (handle.Target as PendingHostCall)?.Caller.Invalidate();
            handle.Free();
        }
        catch
        {
            // Never unwind into native code.
        }
    }

    /// <summary>Called on every poll of the suspended future: true once the host task finished and results are written.</summary>
    [UnmanagedCallersOnly]
    private static byte PollPending(IntPtr env)
    {
        PendingHostCall? call = null;
        try
        {
            call = (PendingHostCall)GCHandle.FromIntPtr(env).Target!;
            if (!call.Task.IsCompleted) return 0;
            if (ReferenceEquals(call.State.PendingTask, call.Task)) call.State.PendingTask = null;
            if (call.Task.IsFaulted || call.Task.IsCanceled)
            {
                call.Caller.Invalidate();
                var error = call.Task.Exception?.InnerException ?? new TaskCanceledException(call.Task);
                *call.TrapRet = Fault(call.State, error);
                return 1;
            }
            try { call.Caller.RunCompletion(call.ManagedResults); }
            finally { call.Caller.Invalidate(); }
            WriteResults(call.State, call.ManagedResults, call.NativeResults, call.Entry.Results, call.TrapRet);
            return 1;
        }
        catch (Exception e)
        {
            if (call != null) *call.TrapRet = Fault(call.State, e);
            return 1;
        }
    }

    private static void WriteResults(StoreState state, WasmValue[] managed, WasmValue* native, WasmValueKind[] kinds, IntPtr* trapRet)
    {
        var problem = CheckResults(managed, kinds);
        if (problem != null)
        {
            *trapRet = Fault(state, new WasmTrapException(problem));
            return;
        }
        managed.AsSpan().CopyTo(new Span<WasmValue>(native, managed.Length));
    }

    private static void Prefill(Span<WasmValue> results, WasmValueKind[] kinds)
    {
        for (int i = 0; i < results.Length && i < kinds.Length; i++) results[i] = WasmValue.Default(kinds[i]);
    }

    /// <summary>Wasmtime aborts on unknown kinds and would report wrong ones late; check here with a clear message.</summary>
    private static string? CheckResults(ReadOnlySpan<WasmValue> results, WasmValueKind[] kinds)
    {
        for (int i = 0; i < results.Length; i++)
        {
            if (i < kinds.Length && results[i].Kind != kinds[i])
                return $"host function result {i} has kind {results[i].Kind}, expected {kinds[i]}";
            if (!results[i].IsSafeForWasmtime)
                return $"host function result {i} ({results[i].Kind}) is not supported (only null externrefs)";
        }
        return null;
    }

    /// <summary>Records the host exception on the store and turns it into an owned trap for Wasmtime.</summary>
    private static IntPtr Fault(StoreState? state, Exception e)
    {
        try
        {
            if (state != null) state.HostFault ??= e;
            return NativeErrors.NewTrap(e.Message);
        }
        catch
        {
            return NativeErrors.NewTrap("host function failed");
        }
    }
}
