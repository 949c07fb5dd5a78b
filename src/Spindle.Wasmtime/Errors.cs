using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>An error reported by Wasmtime (compile, link, instantiate, call), carrying Wasmtime's message.</summary>
public class WasmtimeException : Exception
{
    /// <summary>Creates the exception with Wasmtime's message.</summary>
    public WasmtimeException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public WasmtimeException(string message, Exception? inner) : base(message, inner) { }

    /// <summary>The wasm backtrace Wasmtime attached ("0: 0x11c - &lt;unknown&gt;!boom" lines), or null.</summary>
    public string? WasmBacktrace { get; init; }
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
        var (message, backtrace) = SplitBacktrace(TakeErrorMessage(error));
        if (context != null) message = context + ": " + message;
        return inner != null
            ? new WasmTrapException(message, null, inner) { WasmBacktrace = backtrace }
            : new WasmtimeException(message) { WasmBacktrace = backtrace };
    }

    /// <summary>
    /// Wasmtime formats failures of wasm code as "error while executing at wasm backtrace:\n  frames...\n\nCaused by:\n    cause".
    /// The cause is the useful message ("wasm trap: interrupt"); the frames are kept apart.
    /// </summary>
    internal static (string Message, string? Backtrace) SplitBacktrace(string full)
    {
        const string Marker = "\nCaused by:\n";
        var at = full.IndexOf(Marker, StringComparison.Ordinal);
        if (at < 0) return (full, null);
        var head = full[..at].TrimEnd();
        var causes = full[(at + Marker.Length)..]
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(StripIndex)
            .ToArray();
        var firstNewline = head.IndexOf('\n');
        var backtrace = firstNewline < 0 ? null : head[(firstNewline + 1)..];
        var context = firstNewline < 0 ? head : head[..firstNewline];
        // The head is either the backtrace banner or an error context of its own.
        var message = context.StartsWith("error while executing at wasm backtrace", StringComparison.Ordinal)
            ? string.Join(": ", causes)
            : string.Join(": ", causes.Prepend(context));
        return (message, backtrace);
    }

    private static string StripIndex(string line)
    {
        var colon = line.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && line[..colon].All(char.IsAsciiDigit) ? line[(colon + 2)..] : line;
    }

    public static WasmTrapException FromTrap(IntPtr trap, Exception? inner = null)
    {
        WasmByteVec vec = default;
        try
        {
            Native.wasm_trap_message(trap, &vec);
            byte code;
            TrapCode? trapCode = Native.wasmtime_trap_code(trap, &code) != 0 ? (TrapCode)code : null;
            var (message, backtrace) = SplitBacktrace(vec.ToUtf8String());
            return new WasmTrapException(message, trapCode, inner) { WasmBacktrace = backtrace };
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
