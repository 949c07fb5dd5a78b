using System.Runtime.InteropServices;
using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>An instance in a store (<c>wasmtime_instance_t</c>: store id + index, 16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly unsafe struct WasmInstance
{
    private readonly ulong _storeId;
    private readonly nuint _index;

    /// <summary>The export named <paramref name="name"/>, or null.</summary>
    public WasmExtern? GetExport(StoreContext store, string name)
    {
        var self = this;
        var bytes = Utf8.Bytes(name);
        WasmtimeExtern item;
        fixed (byte* p = bytes)
        {
            if (Native.wasmtime_instance_export_get(store.Handle, &self, p, (nuint)bytes.Length, &item) == 0) return null;
        }
        return new WasmExtern(item);
    }

    /// <summary>The export whose UTF-8 encoded name is <paramref name="utf8Name"/>, or null (no encoding per call).</summary>
    public WasmExtern? GetExport(StoreContext store, ReadOnlySpan<byte> utf8Name)
    {
        var self = this;
        WasmtimeExtern item;
        fixed (byte* p = utf8Name)
        {
            if (Native.wasmtime_instance_export_get(store.Handle, &self, p, (nuint)utf8Name.Length, &item) == 0) return null;
        }
        return new WasmExtern(item);
    }

    /// <summary>The exported function <paramref name="name"/>; throws naming it when missing or not a function.</summary>
    public WasmFunc GetFunc(StoreContext store, string name) =>
        GetExport(store, name)?.Func ?? throw new WasmtimeException($"instance has no exported function '{name}'");

    /// <summary>The exported memory <paramref name="name"/>, or null.</summary>
    public WasmMemory? GetMemory(StoreContext store, string name = "memory") => GetExport(store, name)?.Memory;

    /// <summary>All exports in order.</summary>
    public IReadOnlyList<(string Name, WasmExtern Extern)> Exports(StoreContext store)
    {
        var self = this;
        var list = new List<(string, WasmExtern)>();
        for (nuint i = 0; ; i++)
        {
            byte* name;
            nuint length;
            WasmtimeExtern item;
            if (Native.wasmtime_instance_export_nth(store.Handle, &self, i, &name, &length, &item) == 0) break;
            list.Add((Utf8.Read(name, length), new WasmExtern(item)));
        }
        return list;
    }
}
