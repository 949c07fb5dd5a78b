using Spindle.Wasmtime;

namespace Spindle.Components.Abi;

/// <summary>Conversions between Wasmtime core values and the ABI's flat bit patterns.</summary>
internal static class FlatValues
{
    public static ulong ToBits(in WasmValue v) => v.Kind switch
    {
        WasmValueKind.I32 => (uint)v.AsI32(),
        WasmValueKind.I64 => (ulong)v.AsI64(),
        WasmValueKind.F32 => (uint)BitConverter.SingleToInt32Bits(v.AsF32()),
        WasmValueKind.F64 => (ulong)BitConverter.DoubleToInt64Bits(v.AsF64()),
        _ => throw AbiContext.Trap($"unexpected core value kind {v.Kind}"),
    };

    public static WasmValue FromBits(ulong bits, FlatKind kind) => kind switch
    {
        FlatKind.I32 => WasmValue.I32((int)(uint)bits),
        FlatKind.I64 => WasmValue.I64((long)bits),
        FlatKind.F32 => WasmValue.F32(BitConverter.Int32BitsToSingle((int)(uint)bits)),
        _ => WasmValue.F64(BitConverter.Int64BitsToDouble((long)bits)),
    };

    public static WasmValueKind Kind(FlatKind k) => k switch
    {
        FlatKind.I32 => WasmValueKind.I32,
        FlatKind.I64 => WasmValueKind.I64,
        FlatKind.F32 => WasmValueKind.F32,
        _ => WasmValueKind.F64,
    };

    public static WasmFuncType CoreType(FlatKind[] ps, FlatKind[] rs) =>
        new(Array.ConvertAll(ps, Kind), Array.ConvertAll(rs, Kind));

    // ---- whole-function operations (called once per call; the plans inside are prebuilt) ----

    /// <summary>Lifts the arguments a guest passed to a lowered host function.</summary>
    public static object?[] LiftParams(AbiContext cx, FuncAbi f, ReadOnlySpan<WasmValue> args) => LiftParams(cx, f, args, f.ParamsInMemory);

    /// <summary>Lifts the arguments of a call through <c>canon lower async</c> (more than 4 flat values: by pointer).</summary>
    public static object?[] LiftParamsAsyncLowered(AbiContext cx, FuncAbi f, ReadOnlySpan<WasmValue> args) => LiftParams(cx, f, args, f.AsyncParamsInMemory);

    /// <summary>
    /// Stores a host function's result through the return pointer of a <c>canon lower async</c> call (the last
    /// core argument), as the spec does when the subtask returns: every result goes through memory there.
    /// </summary>
    public static void StoreResultAsyncLowered(AbiContext cx, FuncAbi f, object? result, ReadOnlySpan<WasmValue> args)
    {
        if (!f.AsyncHasReturnPointer) return;
        var ptr = (uint)args[^1].AsI32();
        CheckAligned(ptr, f.Result!.Align, "return");
        cx.Slice(ptr, f.Result.Size);
        f.Result.Store(cx, result, ptr);
    }

    private static object?[] LiftParams(AbiContext cx, FuncAbi f, ReadOnlySpan<WasmValue> args, bool inMemory)
    {
        if (inMemory)
        {
            var ptr = (uint)args[0].AsI32();
            CheckAligned(ptr, f.ParamTuple.Align, "parameter");
            cx.Slice(ptr, f.ParamTuple.Size);
            return (object?[])f.ParamTuple.Load(cx, ptr)!;
        }
        Span<ulong> flat = stackalloc ulong[f.FlatParamCount];
        for (var k = 0; k < flat.Length; k++) flat[k] = ToBits(args[k]);
        if (f.Params.Length == 0) return []; // new object?[0] would allocate per call
        var values = new object?[f.Params.Length];
        var i = 0;
        for (var k = 0; k < values.Length; k++) values[k] = f.Params[k].LiftFlat(cx, flat, ref i);
        return values;
    }

    /// <summary>Lowers a host function's result for the guest (into the return pointer, or as a flat result).</summary>
    public static void LowerResult(AbiContext cx, FuncAbi f, object? result, ReadOnlySpan<WasmValue> args, Span<WasmValue> results)
    {
        if (f.Result is null) return;
        if (f.ResultInMemory)
        {
            var ptr = (uint)args[^1].AsI32();
            CheckAligned(ptr, f.Result.Align, "return");
            cx.Slice(ptr, f.Result.Size);
            f.Result.Store(cx, result, ptr);
            return;
        }
        Span<ulong> flat = stackalloc ulong[1];
        var i = 0;
        f.Result.LowerFlat(cx, result, flat, ref i);
        results[0] = FromBits(flat[0], f.Result.Flat[0]);
    }

    /// <summary>Lowers export arguments (into memory through realloc when there are more than 16 flat values).</summary>
    public static WasmValue[] LowerParams(AbiContext cx, FuncAbi f, object?[] args)
    {
        if (args.Length != f.Params.Length)
            throw new ArgumentException($"{TypePrinterShort(f)} takes {f.Params.Length} arguments, {args.Length} given");
        if (f.ParamsInMemory)
        {
            var ptr = cx.Alloc(f.ParamTuple.Align, f.ParamTuple.Size);
            f.ParamTuple.Store(cx, args, ptr);
            return [WasmValue.I32((int)ptr)];
        }
        var flat = new ulong[f.FlatParamCount];
        var i = 0;
        for (var k = 0; k < args.Length; k++) f.Params[k].LowerFlat(cx, args[k], flat, ref i);
        var core = new WasmValue[flat.Length];
        var kinds = f.ParamTuple.Flat;
        for (var k = 0; k < core.Length; k++) core[k] = FromBits(flat[k], kinds[k]);
        return core;
    }

    /// <summary>Lifts an export's result from its core results.</summary>
    public static object? LiftResult(AbiContext cx, FuncAbi f, WasmValue[] core)
    {
        if (f.Result is null) return null;
        if (f.ResultInMemory)
        {
            var ptr = (uint)core[0].AsI32();
            CheckAligned(ptr, f.Result.Align, "result");
            cx.Slice(ptr, f.Result.Size);
            return f.Result.Load(cx, ptr);
        }
        Span<ulong> flat = stackalloc ulong[core.Length];
        for (var k = 0; k < flat.Length; k++) flat[k] = ToBits(core[k]);
        var i = 0;
        return f.Result.LiftFlat(cx, flat, ref i);
    }

    private static void CheckAligned(uint ptr, int align, string what)
    {
        if ((ptr & (uint)(align - 1)) != 0) throw AbiContext.Trap($"{what} pointer 0x{ptr:x} is not {align}-byte aligned");
    }

    private static string TypePrinterShort(FuncAbi f) => Types.TypePrinter.Print(f.Type);
}
