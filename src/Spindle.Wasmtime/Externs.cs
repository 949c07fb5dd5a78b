using System.Runtime.InteropServices;
using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>Kind of an import, export or extern.</summary>
public enum WasmExternKind : byte
{
    /// <summary>A function.</summary>
    Func = 0,
    /// <summary>A global.</summary>
    Global = 1,
    /// <summary>A table.</summary>
    Table = 2,
    /// <summary>A linear memory.</summary>
    Memory = 3,
    /// <summary>A shared memory (threads proposal; not usable through this layer).</summary>
    SharedMemory = 4,
}

/// <summary>
/// An item exported by an instance or defined in a linker. It is only meaningful in the store it came
/// from; using it with another store is a programming error that Wasmtime may answer with an abort.
/// </summary>
public readonly struct WasmExtern
{
    internal readonly WasmtimeExtern Raw;

    internal WasmExtern(in WasmtimeExtern raw) => Raw = raw;

    /// <summary>Wraps a function.</summary>
    public static WasmExtern FromFunc(WasmFunc func) { WasmtimeExtern r = default; r.Kind = WasmtimeExtern.KindFunc; r.Func = func; return new(r); }
    /// <summary>Wraps a memory.</summary>
    public static WasmExtern FromMemory(WasmMemory memory) { WasmtimeExtern r = default; r.Kind = WasmtimeExtern.KindMemory; r.Memory = memory; return new(r); }
    /// <summary>Wraps a table.</summary>
    public static WasmExtern FromTable(WasmTable table) { WasmtimeExtern r = default; r.Kind = WasmtimeExtern.KindTable; r.Table = table; return new(r); }
    /// <summary>Wraps a global.</summary>
    public static WasmExtern FromGlobal(WasmGlobal global) { WasmtimeExtern r = default; r.Kind = WasmtimeExtern.KindGlobal; r.Global = global; return new(r); }

    /// <summary>The kind of item.</summary>
    public WasmExternKind Kind => (WasmExternKind)Raw.Kind;
    /// <summary>The function, or null when this is not a function.</summary>
    public WasmFunc? Func => Raw.Kind == WasmtimeExtern.KindFunc ? Raw.Func : null;
    /// <summary>The memory, or null when this is not a memory.</summary>
    public WasmMemory? Memory => Raw.Kind == WasmtimeExtern.KindMemory ? Raw.Memory : null;
    /// <summary>The table, or null when this is not a table.</summary>
    public WasmTable? Table => Raw.Kind == WasmtimeExtern.KindTable ? Raw.Table : null;
    /// <summary>The global, or null when this is not a global.</summary>
    public WasmGlobal? Global => Raw.Kind == WasmtimeExtern.KindGlobal ? Raw.Global : null;

    /// <inheritdoc/>
    public override string ToString() => Kind.ToString();
}

/// <summary>A linear memory in a store (<c>wasmtime_memory_t</c>; 32 bytes reserved for the native value).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public readonly unsafe struct WasmMemory
{
    [FieldOffset(0)] private readonly ulong _storeId;

    /// <summary>Wasm page size in bytes (64 KiB; custom page sizes are not used by this layer).</summary>
    public const int PageSize = 65536;

    /// <summary>
    /// The memory's bytes. The span is valid only until the next call into wasm or the next grow (either may
    /// move or resize the memory): take it, use it, drop it. Bounds-check guest offsets against its length.
    /// </summary>
    public Span<byte> GetSpan(StoreContext store)
    {
        var self = this;
        var data = Native.wasmtime_memory_data(store.Handle, &self);
        var size = Native.wasmtime_memory_data_size(store.Handle, &self);
        // Span lengths are int; memories above 2 GiB expose only their first 2 GiB through this view.
        return new Span<byte>(data, (int)Math.Min(size, (nuint)int.MaxValue));
    }

    /// <summary>
    /// A bounds-checked slice of guest memory for a guest-supplied (pointer, length); throws
    /// <see cref="WasmTrapException"/> when it lies outside the memory. Same validity rules as <see cref="GetSpan(StoreContext)"/>.
    /// </summary>
    public Span<byte> GetSpan(StoreContext store, uint offset, uint length)
    {
        var span = GetSpan(store);
        if ((ulong)offset + length > (ulong)span.Length)
            throw new WasmTrapException($"guest memory range [{offset}, {offset}+{length}) is outside the memory ({span.Length} bytes)");
        return span.Slice((int)offset, (int)length);
    }

    /// <summary>Raw pointer to the memory's first byte (same validity rules as <see cref="GetSpan(StoreContext)"/>).</summary>
    public IntPtr DataPointer(StoreContext store) { var self = this; return (IntPtr)Native.wasmtime_memory_data(store.Handle, &self); }

    /// <summary>Size in bytes.</summary>
    public ulong Size(StoreContext store) { var self = this; return Native.wasmtime_memory_data_size(store.Handle, &self); }

    /// <summary>Size in wasm pages.</summary>
    public ulong Pages(StoreContext store) { var self = this; return Native.wasmtime_memory_size(store.Handle, &self); }

    /// <summary>Grows by <paramref name="deltaPages"/> pages; returns the previous size in pages.</summary>
    public ulong Grow(StoreContext store, ulong deltaPages)
    {
        var self = this;
        ulong previous;
        NativeErrors.Check(Native.wasmtime_memory_grow(store.Handle, &self, deltaPages, &previous), "memory.grow");
        return previous;
    }

    /// <summary>The id of the owning store (never zero for a live memory).</summary>
    public ulong StoreId => _storeId;
}

/// <summary>A table in a store (<c>wasmtime_table_t</c>; 32 bytes reserved).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public readonly unsafe struct WasmTable
{
    [FieldOffset(0)] private readonly ulong _storeId;

    /// <summary>Number of elements.</summary>
    public ulong Size(StoreContext store) { var self = this; return Native.wasmtime_table_size(store.Handle, &self); }

    /// <summary>Element at <paramref name="index"/>, or null when out of bounds.</summary>
    public WasmValue? Get(StoreContext store, ulong index)
    {
        var self = this;
        WasmValue value;
        if (Native.wasmtime_table_get(store.Handle, &self, index, &value) == 0) return null;
        return value;
    }

    /// <summary>Sets the element at <paramref name="index"/> (a funcref for funcref tables).</summary>
    public void Set(StoreContext store, ulong index, WasmValue value)
    {
        if (!value.IsSafeForWasmtime) throw new ArgumentException($"value kind {value.Kind} cannot be stored in a table", nameof(value));
        var self = this;
        NativeErrors.Check(Native.wasmtime_table_set(store.Handle, &self, index, &value), "table.set");
    }
}

/// <summary>A global in a store (<c>wasmtime_global_t</c>; 32 bytes reserved).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public readonly unsafe struct WasmGlobal
{
    [FieldOffset(0)] private readonly ulong _storeId;

    /// <summary>The current value.</summary>
    public WasmValue Get(StoreContext store)
    {
        var self = this;
        WasmValue value;
        Native.wasmtime_global_get(store.Handle, &self, &value);
        return value;
    }

    /// <summary>Sets the value (the global must be mutable and the kind must match).</summary>
    public void Set(StoreContext store, WasmValue value)
    {
        if (!value.IsSafeForWasmtime) throw new ArgumentException($"value kind {value.Kind} cannot be stored in a global", nameof(value));
        var self = this;
        NativeErrors.Check(Native.wasmtime_global_set(store.Handle, &self, &value), "global.set");
    }
}

/// <summary>
/// A store's context pointer (<c>wasmtime_context_t*</c>), as needed to touch memories, tables and globals.
/// Obtained from a <see cref="WasmStore"/> (implicitly) or from a host call's caller. Valid while the store lives.
/// </summary>
public readonly struct StoreContext
{
    /// <summary>Wraps a raw context pointer.</summary>
    public StoreContext(IntPtr handle) => Handle = handle;

    /// <summary>The raw <c>wasmtime_context_t*</c>.</summary>
    public IntPtr Handle { get; }

    /// <summary>The context of a store.</summary>
    public static implicit operator StoreContext(WasmStore store) => new(store.Context);
}
