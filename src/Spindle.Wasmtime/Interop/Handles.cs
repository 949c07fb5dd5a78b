using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Interop;

/// <summary>Base for owned Wasmtime pointers; each subclass knows its delete function.</summary>
internal abstract class WasmtimeHandle : SafeHandle
{
    protected WasmtimeHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>The raw pointer; throws once disposed.</summary>
    public IntPtr Ptr
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }
}

internal sealed class EngineHandle(IntPtr h) : WasmtimeHandle(h)
{
    protected override bool ReleaseHandle() { Native.wasm_engine_delete(handle); return true; }
}

internal sealed class NativeModuleHandle(IntPtr h) : WasmtimeHandle(h)
{
    protected override bool ReleaseHandle() { Native.wasmtime_module_delete(handle); return true; }
}

internal sealed class LinkerHandle(IntPtr h) : WasmtimeHandle(h)
{
    protected override bool ReleaseHandle() { Native.wasmtime_linker_delete(handle); return true; }
}

internal sealed class StoreHandle(IntPtr h) : WasmtimeHandle(h)
{
    protected override bool ReleaseHandle() { Native.wasmtime_store_delete(handle); return true; }
}

internal sealed class InstancePreHandle(IntPtr h) : WasmtimeHandle(h)
{
    protected override bool ReleaseHandle() { Native.wasmtime_instance_pre_delete(handle); return true; }
}

/// <summary>Callbacks shared by every native object that carries a GCHandle as its user data.</summary>
internal static class GCHandleFinalizer
{
    /// <summary>Finalizer handed to Wasmtime with a <see cref="GCHandle"/> as data: frees the handle.</summary>
    [UnmanagedCallersOnly]
    public static void Free(IntPtr data)
    {
        try
        {
            if (data != IntPtr.Zero) GCHandle.FromIntPtr(data).Free();
        }
        catch
        {
            // Never let an exception cross into native code.
        }
    }
}

/// <summary>UTF-8 helpers for passing names to Wasmtime.</summary>
internal static class Utf8
{
    public static byte[] Bytes(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    public static unsafe string Read(byte* data, nuint length) =>
        data == null || length == 0 ? "" : System.Text.Encoding.UTF8.GetString(data, checked((int)length));
}
