using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>A function signature: parameter and result kinds. Converts to and from <c>wasm_functype_t</c>.</summary>
public sealed class WasmFuncType : IEquatable<WasmFuncType>
{
    /// <summary>Creates a signature.</summary>
    public WasmFuncType(IEnumerable<WasmValueKind> parameters, IEnumerable<WasmValueKind> results)
    {
        Parameters = parameters.ToArray();
        Results = results.ToArray();
    }

    /// <summary>Shorthand: <c>WasmFuncType.Of([I32, I32], [I64])</c>.</summary>
    public static WasmFuncType Of(ReadOnlySpan<WasmValueKind> parameters, ReadOnlySpan<WasmValueKind> results) =>
        new(parameters.ToArray(), results.ToArray());

    /// <summary>Parameter kinds.</summary>
    public IReadOnlyList<WasmValueKind> Parameters { get; }

    /// <summary>Result kinds.</summary>
    public IReadOnlyList<WasmValueKind> Results { get; }

    /// <summary>Creates an owned <c>wasm_functype_t*</c>; the caller deletes it.</summary>
    internal unsafe IntPtr ToNative()
    {
        WasmPtrVec p = MakeVec(Parameters), r = MakeVec(Results);
        return Native.wasm_functype_new(&p, &r);
    }

    private static unsafe WasmPtrVec MakeVec(IReadOnlyList<WasmValueKind> kinds)
    {
        WasmPtrVec vec;
        if (kinds.Count == 0)
        {
            Native.wasm_valtype_vec_new_empty(&vec);
            return vec;
        }
        var types = stackalloc IntPtr[kinds.Count];
        for (int i = 0; i < kinds.Count; i++) types[i] = Native.wasm_valtype_new(ToValKind(kinds[i]));
        Native.wasm_valtype_vec_new(&vec, (nuint)kinds.Count, types);
        return vec;
    }

    /// <summary>Reads a borrowed <c>wasm_functype_t*</c>.</summary>
    internal static unsafe WasmFuncType FromNative(IntPtr funcType) =>
        new(ReadVec(Native.wasm_functype_params(funcType)), ReadVec(Native.wasm_functype_results(funcType)));

    private static unsafe WasmValueKind[] ReadVec(WasmPtrVec* vec)
    {
        var kinds = new WasmValueKind[(int)vec->Size];
        for (int i = 0; i < kinds.Length; i++) kinds[i] = FromValKind(Native.wasm_valtype_kind(vec->Data[i]));
        return kinds;
    }

    // wasm.h numbering (wasm_valkind_t) differs from wasmtime_valkind_t for references.
    private static byte ToValKind(WasmValueKind kind) => kind switch
    {
        WasmValueKind.I32 => 0,
        WasmValueKind.I64 => 1,
        WasmValueKind.F32 => 2,
        WasmValueKind.F64 => 3,
        WasmValueKind.V128 => 4,
        WasmValueKind.ExternRef => 128,
        WasmValueKind.FuncRef => 129,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unsupported value kind"),
    };

    private static WasmValueKind FromValKind(byte kind) => kind switch
    {
        0 => WasmValueKind.I32,
        1 => WasmValueKind.I64,
        2 => WasmValueKind.F32,
        3 => WasmValueKind.F64,
        4 => WasmValueKind.V128,
        128 => WasmValueKind.ExternRef,
        129 => WasmValueKind.FuncRef,
        _ => throw new WasmtimeException($"unsupported wasm value type (wasm_valkind_t {kind})"),
    };

    /// <inheritdoc/>
    public bool Equals(WasmFuncType? other) =>
        other is not null && Parameters.SequenceEqual(other.Parameters) && Results.SequenceEqual(other.Results);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as WasmFuncType);
    /// <inheritdoc/>
    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);
    /// <inheritdoc/>
    public override string ToString() =>
        $"({string.Join(", ", Parameters)}) -> ({string.Join(", ", Results)})";
}
