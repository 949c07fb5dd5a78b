using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>An error reported by Wasmtime (compile, link, instantiate, call), carrying Wasmtime's message.</summary>
public class WasmtimeException : Exception
{
    /// <summary>Creates the exception with Wasmtime's message.</summary>
    public WasmtimeException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public WasmtimeException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>
/// A WebAssembly trap: an instruction trap (<see cref="TrapCode"/> set, e.g. "wasm trap: interrupt",
/// "unreachable"), or a failure raised by a host function (<see cref="Exception.InnerException"/> holds the
/// host's exception when it came from one). A trap poisons the store: throw the store away.
/// Host functions may throw this type deliberately to make the guest trap with a message.
/// </summary>
public class WasmTrapException : WasmtimeException
{
    /// <summary>Creates a trap with a message (thrown by host code to make the guest trap).</summary>
    public WasmTrapException(string message) : base(message) { }

    /// <summary>Creates a trap with a message, an optional instruction trap code and an inner exception.</summary>
    public WasmTrapException(string message, TrapCode? code, Exception? inner = null) : base(message, inner) => TrapCode = code;

    /// <summary>The instruction trap code, or null when the trap did not come from a wasm instruction.</summary>
    public TrapCode? TrapCode { get; }
}

/// <summary>Wasmtime's instruction trap codes (<c>wasmtime_trap_code_t</c>).</summary>
public enum TrapCode : byte
{
    /// <summary>The wasm stack was exhausted.</summary>
    StackOverflow = 0,
    /// <summary>Out-of-bounds memory access.</summary>
    MemoryOutOfBounds = 1,
    /// <summary>Misaligned atomic access.</summary>
    HeapMisaligned = 2,
    /// <summary>Out-of-bounds table access.</summary>
    TableOutOfBounds = 3,
    /// <summary>call_indirect to a null entry.</summary>
    IndirectCallToNull = 4,
    /// <summary>call_indirect signature mismatch.</summary>
    BadSignature = 5,
    /// <summary>Integer overflow.</summary>
    IntegerOverflow = 6,
    /// <summary>Integer division by zero.</summary>
    IntegerDivisionByZero = 7,
    /// <summary>Invalid float-to-int conversion.</summary>
    BadConversionToInteger = 8,
    /// <summary><c>unreachable</c> executed.</summary>
    UnreachableCodeReached = 9,
    /// <summary>The epoch deadline passed ("wasm trap: interrupt").</summary>
    Interrupt = 10,
    /// <summary>Fuel ran out.</summary>
    OutOfFuel = 11,
}

/// <summary>Turns owned <c>wasmtime_error_t*</c> / <c>wasm_trap_t*</c> into exceptions, always freeing them.</summary>
internal static unsafe class NativeErrors
{
    public static string TakeErrorMessage(IntPtr error)
    {
        WasmByteVec vec = default;
        try
        {
            Native.wasmtime_error_message(error, &vec);
            return vec.ToUtf8String();
        }
        finally
        {
            Native.wasm_byte_vec_delete(&vec);
            Native.wasmtime_error_delete(error);
        }
    }

    public static WasmtimeException FromError(IntPtr error, string? context = null, Exception? inner = null)
    {
        var message = TakeErrorMessage(error);
        if (context != null) message = context + ": " + message;
        return inner != null ? new WasmTrapException(message, null, inner) : new WasmtimeException(message);
    }

    public static WasmTrapException FromTrap(IntPtr trap, Exception? inner = null)
    {
        WasmByteVec vec = default;
        try
        {
            Native.wasm_trap_message(trap, &vec);
            byte code;
            TrapCode? trapCode = Native.wasmtime_trap_code(trap, &code) != 0 ? (TrapCode)code : null;
            return new WasmTrapException(vec.ToUtf8String(), trapCode, inner);
        }
        finally
        {
            Native.wasm_byte_vec_delete(&vec);
            Native.wasm_trap_delete(trap);
        }
    }

    /// <summary>Throws (and frees) when <paramref name="error"/> is non-null.</summary>
    public static void Check(IntPtr error, string? context = null)
    {
        if (error != IntPtr.Zero) throw FromError(error, context);
    }

    /// <summary>Creates an owned <c>wasm_trap_t*</c> carrying <paramref name="message"/> (handed to Wasmtime).</summary>
    public static IntPtr NewTrap(string message)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(message);
        fixed (byte* p = bytes) return Native.wasmtime_trap_new(p, (nuint)bytes.Length);
    }
}
