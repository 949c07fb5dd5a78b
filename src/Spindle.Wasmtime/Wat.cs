using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>WebAssembly text to binary through Wasmtime's bundled parser (modules and components).</summary>
public static unsafe class Wat
{
    /// <summary>Parses <paramref name="wat"/>; a syntax error throws <see cref="WasmtimeException"/> naming line and column.</summary>
    public static byte[] ToWasm(string wat)
    {
        ArgumentNullException.ThrowIfNull(wat);
        var text = Utf8.Bytes(wat);
        WasmByteVec vec = default;
        IntPtr error;
        fixed (byte* p = text)
        {
            error = Native.wasmtime_wat2wasm(p, (nuint)text.Length, &vec);
        }
        NativeErrors.Check(error, "parsing WAT");
        try
        {
            return new ReadOnlySpan<byte>(vec.Data, checked((int)vec.Size)).ToArray();
        }
        finally
        {
            Native.wasm_byte_vec_delete(&vec);
        }
    }
}
