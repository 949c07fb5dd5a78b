using System.Runtime.InteropServices;

namespace Spindle.Wasmtime;

/// <summary>Kind of a <see cref="WasmValue"/> (the <c>wasmtime_valkind_t</c> numbering).</summary>
public enum WasmValueKind : byte
{
    /// <summary>32-bit integer.</summary>
    I32 = 0,
    /// <summary>64-bit integer.</summary>
    I64 = 1,
    /// <summary>32-bit float.</summary>
    F32 = 2,
    /// <summary>64-bit float.</summary>
    F64 = 3,
    /// <summary>128-bit vector.</summary>
    V128 = 4,
    /// <summary>Function reference (possibly null).</summary>
    FuncRef = 5,
    /// <summary>External reference (only null is supported by this layer).</summary>
    ExternRef = 6,
}

/// <summary>
/// A WebAssembly value laid out exactly like <c>wasmtime_val_t</c> of the Wasmtime 50 build (GC feature on):
/// kind byte at offset 0, payload union at offset 8, 32 bytes in all. Arrays of it are passed to and from
/// Wasmtime directly, so the size must match the native stride (a multi-argument test checks it).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public readonly struct WasmValue : IEquatable<WasmValue>
{
    [FieldOffset(0)] private readonly WasmValueKind _kind;
    [FieldOffset(8)] private readonly int _i32;
    [FieldOffset(8)] private readonly long _i64;
    [FieldOffset(8)] private readonly float _f32;
    [FieldOffset(8)] private readonly double _f64;
    [FieldOffset(8)] private readonly WasmFunc _func;
    [FieldOffset(8)] private readonly ulong _word0;
    [FieldOffset(16)] private readonly ulong _word1;
    [FieldOffset(24)] private readonly ulong _word2;

    private WasmValue(WasmValueKind kind) : this() => _kind = kind;

    /// <summary>Native size of <c>wasmtime_val_t</c> this struct mirrors.</summary>
    public const int NativeSize = 32;

    /// <summary>The value's kind.</summary>
    public WasmValueKind Kind => _kind;

    /// <summary>Creates an i32.</summary>
    public static WasmValue I32(int value) { var v = new WasmValue(WasmValueKind.I32); System.Runtime.CompilerServices.Unsafe.AsRef(in v._i32) = value; return v; }
    /// <summary>Creates an i64.</summary>
    public static WasmValue I64(long value) { var v = new WasmValue(WasmValueKind.I64); System.Runtime.CompilerServices.Unsafe.AsRef(in v._i64) = value; return v; }
    /// <summary>Creates an f32.</summary>
    public static WasmValue F32(float value) { var v = new WasmValue(WasmValueKind.F32); System.Runtime.CompilerServices.Unsafe.AsRef(in v._f32) = value; return v; }
    /// <summary>Creates an f64.</summary>
    public static WasmValue F64(double value) { var v = new WasmValue(WasmValueKind.F64); System.Runtime.CompilerServices.Unsafe.AsRef(in v._f64) = value; return v; }
    /// <summary>Creates a funcref to <paramref name="func"/> (or a null funcref when <paramref name="func"/> is default).</summary>
    public static WasmValue FuncRef(WasmFunc func) { var v = new WasmValue(WasmValueKind.FuncRef); System.Runtime.CompilerServices.Unsafe.AsRef(in v._func) = func; return v; }
    /// <summary>A null funcref.</summary>
    public static WasmValue NullFuncRef => new(WasmValueKind.FuncRef);
    /// <summary>A null externref.</summary>
    public static WasmValue NullExternRef => new(WasmValueKind.ExternRef);
    /// <summary>The zero / null value of a kind.</summary>
    public static WasmValue Default(WasmValueKind kind) => new(kind);

    /// <summary>The i32 payload (throws when the kind differs).</summary>
    public int AsI32() => _kind == WasmValueKind.I32 ? _i32 : throw WrongKind(WasmValueKind.I32);
    /// <summary>The i64 payload.</summary>
    public long AsI64() => _kind == WasmValueKind.I64 ? _i64 : throw WrongKind(WasmValueKind.I64);
    /// <summary>The f32 payload.</summary>
    public float AsF32() => _kind == WasmValueKind.F32 ? _f32 : throw WrongKind(WasmValueKind.F32);
    /// <summary>The f64 payload.</summary>
    public double AsF64() => _kind == WasmValueKind.F64 ? _f64 : throw WrongKind(WasmValueKind.F64);
    /// <summary>The funcref payload (<see cref="WasmFunc.IsNull"/> for null).</summary>
    public WasmFunc AsFuncRef() => _kind == WasmValueKind.FuncRef ? _func : throw WrongKind(WasmValueKind.FuncRef);

    /// <summary>True for a null funcref/externref.</summary>
    public bool IsNullRef => (_kind == WasmValueKind.FuncRef || _kind == WasmValueKind.ExternRef) && _word0 == 0;

    private InvalidOperationException WrongKind(WasmValueKind wanted) => new($"WasmValue is {_kind}, not {wanted}.");

    /// <inheritdoc/>
    public bool Equals(WasmValue other) => _kind == other._kind && Payload(this).Equals(Payload(other));

    private static (ulong, ulong, ulong) Payload(in WasmValue v) => v._kind switch
    {
        WasmValueKind.I32 or WasmValueKind.F32 => ((uint)v._i32, 0, 0),
        WasmValueKind.I64 or WasmValueKind.F64 => (v._word0, 0, 0),
        WasmValueKind.FuncRef => (v._word0, v._word1, 0),
        _ => (v._word0, v._word1, v._word2),
    };

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is WasmValue v && Equals(v);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_kind, Payload(this));
    /// <summary>Equality.</summary>
    public static bool operator ==(WasmValue a, WasmValue b) => a.Equals(b);
    /// <summary>Inequality.</summary>
    public static bool operator !=(WasmValue a, WasmValue b) => !a.Equals(b);

    /// <inheritdoc/>
    public override string ToString() => _kind switch
    {
        WasmValueKind.I32 => $"i32:{_i32}",
        WasmValueKind.I64 => $"i64:{_i64}",
        WasmValueKind.F32 => $"f32:{_f32}",
        WasmValueKind.F64 => $"f64:{_f64}",
        WasmValueKind.FuncRef => _word0 == 0 ? "funcref:null" : "funcref",
        WasmValueKind.ExternRef => _word0 == 0 ? "externref:null" : "externref",
        _ => _kind.ToString(),
    };

    /// <summary>Whether a host may hand this value to Wasmtime (unknown kinds would abort the process).</summary>
    internal bool IsSafeForWasmtime => _kind switch
    {
        WasmValueKind.I32 or WasmValueKind.I64 or WasmValueKind.F32 or WasmValueKind.F64 or WasmValueKind.V128 => true,
        WasmValueKind.FuncRef => true,
        WasmValueKind.ExternRef => _word0 == 0,
        _ => false,
    };
}
