using System.Runtime.InteropServices;
using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>A function in a store (<c>wasmtime_func_t</c>: store id + index, 16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly unsafe struct WasmFunc : IEquatable<WasmFunc>
{
    private readonly ulong _storeId;
    private readonly nuint _index;

    /// <summary>True for the null funcref.</summary>
    public bool IsNull => _storeId == 0;

    /// <summary>
    /// Creates a synchronous host function owned by <paramref name="store"/> (<c>wasmtime_func_new</c>), e.g. to
    /// <see cref="WasmLinker.Define(WasmStore, string, string, WasmExtern)"/> a per-store import in a cloned linker. Same callback rules as
    /// <see cref="WasmLinker.DefineFunc"/>.
    /// </summary>
    public static WasmFunc Create(WasmStore store, WasmFuncType type, SyncHostCallback callback)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(callback);
        var env = GCHandle.ToIntPtr(GCHandle.Alloc(new HostTrampolines.Entry<SyncHostCallback>(callback, type)));
        var ft = type.ToNative();
        try
        {
            WasmFunc func;
            Native.wasmtime_func_new(store.Context, ft, &HostTrampolines.Sync, env, &GCHandleFinalizer.Free, &func);
            return func;
        }
        finally
        {
            Native.wasm_functype_delete(ft);
        }
    }

    /// <summary>The function's signature.</summary>
    public WasmFuncType Type(StoreContext store)
    {
        var self = this;
        var ft = Native.wasmtime_func_type(store.Handle, &self);
        try
        {
            return WasmFuncType.FromNative(ft);
        }
        finally
        {
            Native.wasm_functype_delete(ft);
        }
    }

    /// <summary>
    /// Calls the function on a fiber and returns its results. Host async functions it reaches are awaited
    /// without blocking a thread. Traps throw <see cref="WasmTrapException"/>, other failures
    /// <see cref="WasmtimeException"/>. Only one call may run per store at a time.
    /// When <see cref="WasmStore.CancellationToken"/> is cancelled, the call is abandoned between polls (the fiber is unwound, pending host tasks keep running but
    /// their caller becomes unusable) and throws <see cref="OperationCanceledException"/>; the store is then
    /// unusable and must be disposed.
    /// </summary>
    public ValueTask<WasmValue[]> CallAsync(WasmStore store, ReadOnlySpan<WasmValue> args, int resultCount)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (IsNull) throw new InvalidOperationException("cannot call a null funcref");
        ArgumentOutOfRangeException.ThrowIfNegative(resultCount);
        foreach (var a in args)
            if (!a.IsSafeForWasmtime) throw new ArgumentException($"argument kind {a.Kind} is not supported", nameof(args));

        var call = new NativeCall(store, args.Length, resultCount);
        try
        {
            *call.Func = this;
            args.CopyTo(new Span<WasmValue>(call.Args, args.Length));
            call.Future = Native.wasmtime_func_call_async(call.Context, call.Func, call.Args, (nuint)args.Length,
                call.Results, (nuint)resultCount, call.TrapSlot, call.ErrorSlot);
        }
        catch
        {
            call.Dispose();
            throw;
        }
        return CallFutureDriver.CallAsync(store.State, call);
    }

    /// <summary>Calls with an argument array (see <see cref="CallAsync(WasmStore, ReadOnlySpan{WasmValue}, int)"/>).</summary>
    public ValueTask<WasmValue[]> CallAsync(WasmStore store, WasmValue[] args, int resultCount) =>
        CallAsync(store, (ReadOnlySpan<WasmValue>)args, resultCount);

    /// <summary>Calls with as many results as the function's signature declares.</summary>
    public ValueTask<WasmValue[]> CallAsync(WasmStore store, params WasmValue[] args) =>
        CallAsync(store, (ReadOnlySpan<WasmValue>)args, Type(store).Results.Count);

    /// <inheritdoc/>
    public bool Equals(WasmFunc other) => _storeId == other._storeId && _index == other._index;
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is WasmFunc f && Equals(f);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_storeId, _index);
}
