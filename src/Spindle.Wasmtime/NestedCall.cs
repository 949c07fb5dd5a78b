using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>
/// Calls a guest function from inside a host function (Spindle.Components uses it for the guest's
/// <c>realloc</c> while lowering values, as the canonical ABI requires). The host function already runs on the
/// guest's fiber, so the nested call is a synchronous raw call (<c>wasmtime_func_call_unchecked</c>): no second
/// fiber, no extra stack. Results are written with the kinds the results span is pre-filled with.
/// <para>
/// Only call it ON the guest's fiber: inside a <see cref="SyncHostCallback"/> or a <see cref="HostCompletion"/>.
/// After an <c>await</c> in an async host function the code runs on a pool thread, where Wasmtime's stack-limit
/// bookkeeping belongs to the suspended fiber; use <see cref="HostCallerInfo.Call"/> there (it runs the call on
/// a fiber of its own) or do the guest calls in <see cref="HostCallerInfo.OnCompleted"/>.
/// </para>
/// </summary>
public static unsafe class NestedCall
{
    /// <summary>
    /// Like <see cref="Call"/>, but first checks the arguments and result count against the function's real
    /// signature (one <c>wasmtime_func_type</c> lookup), and fills in the result kinds itself. A mismatch throws
    /// <see cref="ArgumentException"/> instead of corrupting memory.
    /// </summary>
    public static void CallChecked(StoreContext context, WasmFunc func, ReadOnlySpan<WasmValue> args, Span<WasmValue> results)
    {
        var type = func.Type(context);
        if (type.Parameters.Count != args.Length || type.Results.Count != results.Length)
            throw new ArgumentException($"nested call: function type {type} does not take {args.Length} arguments and return {results.Length} results");
        for (var i = 0; i < args.Length; i++)
            if (args[i].Kind != type.Parameters[i])
                throw new ArgumentException($"nested call: argument {i} is {args[i].Kind}, the function {type} expects {type.Parameters[i]}");
        for (var i = 0; i < results.Length; i++) results[i] = WasmValue.Default(type.Results[i]);
        Call(context, func, args, results);
    }

    /// <summary>Calls <paramref name="func"/> with <paramref name="args"/>, writing <paramref name="results"/>; traps throw <see cref="WasmTrapException"/>. The caller guarantees the signature.</summary>
    public static void Call(StoreContext context, WasmFunc func, ReadOnlySpan<WasmValue> args, Span<WasmValue> results)
    {
        // Off the fiber, Wasmtime's stack-limit bookkeeping belongs to the suspended fiber: refuse instead of
        // running wasm on a stack it does not know. (Every poll we drive records a marker; none means no fiber.)
        if (!FiberGuard.InsidePoll)
            throw new InvalidOperationException("NestedCall.Call must run on the guest's fiber (in a sync host function or HostCallerInfo.OnCompleted); use HostCallerInfo.Call after an await.");
        // wasmtime_func_call refuses stores that need async; the unchecked raw call runs on the current fiber.
        // The caller guarantees the signature (Spindle.Components only calls realloc-like functions it type-checked).
        var n = Math.Max(args.Length, results.Length);
        var raw = stackalloc RawVal[n];
        for (var i = 0; i < args.Length; i++) raw[i] = RawVal.From(args[i]);
        IntPtr trap = IntPtr.Zero;
        IntPtr error;
        WasmStore.NestedCallDepth++;
        try
        {
            error = NestedNative.wasmtime_func_call_unchecked(context.Handle, &func, raw, (nuint)n, &trap);
        }
        finally
        {
            WasmStore.NestedCallDepth--;
        }
        if (trap != IntPtr.Zero)
        {
            if (error != IntPtr.Zero) Native.wasmtime_error_delete(error);
            throw NativeErrors.FromTrap(trap);
        }
        if (error != IntPtr.Zero) throw NativeErrors.FromError(error, "nested guest call");
        for (var i = 0; i < results.Length; i++) results[i] = raw[i].To(results[i].Kind);
    }

    /// <summary><c>wasmtime_val_raw_t</c>: 16 bytes, numbers little-endian at offset 0.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 16)]
    private struct RawVal
    {
        [System.Runtime.InteropServices.FieldOffset(0)] public int I32;
        [System.Runtime.InteropServices.FieldOffset(0)] public long I64;
        [System.Runtime.InteropServices.FieldOffset(0)] public float F32;
        [System.Runtime.InteropServices.FieldOffset(0)] public double F64;

        public static RawVal From(WasmValue v)
        {
            var r = default(RawVal);
            switch (v.Kind)
            {
                case WasmValueKind.I32: r.I32 = v.AsI32(); break;
                case WasmValueKind.I64: r.I64 = v.AsI64(); break;
                case WasmValueKind.F32: r.F32 = v.AsF32(); break;
                case WasmValueKind.F64: r.F64 = v.AsF64(); break;
                default: throw new ArgumentException($"nested calls take numeric values only, not {v.Kind}");
            }
            return r;
        }

        public readonly WasmValue To(WasmValueKind kind) => kind switch
        {
            WasmValueKind.I32 => WasmValue.I32(I32),
            WasmValueKind.I64 => WasmValue.I64(I64),
            WasmValueKind.F32 => WasmValue.F32(F32),
            WasmValueKind.F64 => WasmValue.F64(F64),
            _ => throw new ArgumentException($"nested calls return numeric values only, not {kind}"),
        };
    }
}

internal static unsafe class NestedNative
{
    [System.Runtime.InteropServices.DllImport("wasmtime")]
    public static extern IntPtr wasmtime_func_call_unchecked(IntPtr context, WasmFunc* func, void* argsAndResults, nuint count, IntPtr* trap);
}
