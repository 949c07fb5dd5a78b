using System.Runtime.InteropServices;

namespace Spindle.Wasmtime.Interop;

/// <summary>
/// Raw entry points of libwasmtime's core C API (Wasmtime 50.0.1). Signatures follow the C headers
/// (crates/c-api/include); C <c>bool</c> is passed as <see cref="byte"/>, pointers to Wasmtime's small
/// store-indexed structs (func, memory, instance, ...) as raw pointers.
/// </summary>
internal static unsafe class Native
{
    private const string Lib = "wasmtime";

    // ---- config / engine ----
    [DllImport(Lib)] public static extern IntPtr wasm_config_new();
    [DllImport(Lib)] public static extern void wasm_config_delete(IntPtr config);
    [DllImport(Lib)] public static extern void wasmtime_config_epoch_interruption_set(IntPtr config, byte enable);
    [DllImport(Lib)] public static extern void wasmtime_config_max_wasm_stack_set(IntPtr config, nuint size);
    [DllImport(Lib)] public static extern void wasmtime_config_async_stack_size_set(IntPtr config, nuint size);
    [DllImport(Lib)] public static extern void wasmtime_config_parallel_compilation_set(IntPtr config, byte enable);
    [DllImport(Lib)] public static extern IntPtr wasm_engine_new_with_config(IntPtr config);
    [DllImport(Lib)] public static extern void wasm_engine_delete(IntPtr engine);
    [DllImport(Lib)] public static extern void wasmtime_engine_increment_epoch(IntPtr engine);

    // ---- pooling allocator ----
    [DllImport(Lib)] public static extern IntPtr wasmtime_pooling_allocation_config_new();
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_delete(IntPtr pc);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_total_core_instances_set(IntPtr pc, uint count);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_total_memories_set(IntPtr pc, uint count);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_total_tables_set(IntPtr pc, uint count);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_total_stacks_set(IntPtr pc, uint count);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_max_memory_size_set(IntPtr pc, nuint bytes);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_max_core_instance_size_set(IntPtr pc, nuint bytes);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_max_memories_per_module_set(IntPtr pc, uint count);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_max_tables_per_module_set(IntPtr pc, uint count);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_table_elements_set(IntPtr pc, nuint count);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(IntPtr pc, nuint bytes);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_table_keep_resident_set(IntPtr pc, nuint bytes);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_config_max_unused_warm_slots_set(IntPtr pc, uint count);
    [DllImport(Lib)] public static extern void wasmtime_pooling_allocation_strategy_set(IntPtr config, IntPtr pc);

    // ---- errors, traps, byte vectors ----
    [DllImport(Lib)] public static extern void wasmtime_error_message(IntPtr error, WasmByteVec* message);
    [DllImport(Lib)] public static extern void wasmtime_error_delete(IntPtr error);
    [DllImport(Lib)] public static extern void wasm_trap_message(IntPtr trap, WasmByteVec* message);
    [DllImport(Lib)] public static extern void wasm_trap_delete(IntPtr trap);
    [DllImport(Lib)] public static extern byte wasmtime_trap_code(IntPtr trap, byte* code);
    [DllImport(Lib)] public static extern IntPtr wasmtime_trap_new(byte* message, nuint length);
    [DllImport(Lib)] public static extern void wasm_byte_vec_delete(WasmByteVec* vec);
    [DllImport(Lib)] public static extern IntPtr wasmtime_wat2wasm(byte* wat, nuint length, WasmByteVec* result);

    // ---- modules ----
    [DllImport(Lib)] public static extern IntPtr wasmtime_module_new(IntPtr engine, byte* wasm, nuint length, IntPtr* module);
    [DllImport(Lib)] public static extern void wasmtime_module_delete(IntPtr module);
    [DllImport(Lib)] public static extern IntPtr wasmtime_module_serialize(IntPtr module, WasmByteVec* result);
    [DllImport(Lib)] public static extern IntPtr wasmtime_module_deserialize_file(IntPtr engine, byte* path, IntPtr* module);
    [DllImport(Lib)] public static extern void wasmtime_module_imports(IntPtr module, WasmPtrVec* result);
    [DllImport(Lib)] public static extern void wasmtime_module_exports(IntPtr module, WasmPtrVec* result);

    // ---- types ----
    [DllImport(Lib)] public static extern void wasm_importtype_vec_delete(WasmPtrVec* vec);
    [DllImport(Lib)] public static extern void wasm_exporttype_vec_delete(WasmPtrVec* vec);
    [DllImport(Lib)] public static extern WasmByteVec* wasm_importtype_module(IntPtr importType);
    [DllImport(Lib)] public static extern WasmByteVec* wasm_importtype_name(IntPtr importType);
    [DllImport(Lib)] public static extern IntPtr wasm_importtype_type(IntPtr importType);
    [DllImport(Lib)] public static extern WasmByteVec* wasm_exporttype_name(IntPtr exportType);
    [DllImport(Lib)] public static extern IntPtr wasm_exporttype_type(IntPtr exportType);
    [DllImport(Lib)] public static extern byte wasm_externtype_kind(IntPtr externType);
    [DllImport(Lib)] public static extern IntPtr wasm_externtype_as_functype_const(IntPtr externType);
    [DllImport(Lib)] public static extern IntPtr wasm_functype_new(WasmPtrVec* parameters, WasmPtrVec* results);
    [DllImport(Lib)] public static extern void wasm_functype_delete(IntPtr funcType);
    [DllImport(Lib)] public static extern WasmPtrVec* wasm_functype_params(IntPtr funcType);
    [DllImport(Lib)] public static extern WasmPtrVec* wasm_functype_results(IntPtr funcType);
    [DllImport(Lib)] public static extern IntPtr wasm_valtype_new(byte kind);
    [DllImport(Lib)] public static extern byte wasm_valtype_kind(IntPtr valType);
    [DllImport(Lib)] public static extern void wasm_valtype_vec_new(WasmPtrVec* result, nuint size, IntPtr* data);
    [DllImport(Lib)] public static extern void wasm_valtype_vec_new_empty(WasmPtrVec* result);

    // ---- stores ----
    [DllImport(Lib)] public static extern IntPtr wasmtime_store_new(IntPtr engine, IntPtr data, delegate* unmanaged<IntPtr, void> finalizer);
    [DllImport(Lib)] public static extern IntPtr wasmtime_store_context(IntPtr store);
    [DllImport(Lib)] public static extern void wasmtime_store_delete(IntPtr store);
    [DllImport(Lib)] public static extern void wasmtime_store_limiter(IntPtr store, long memorySize, long tableElements, long instances, long tables, long memories);
    [DllImport(Lib)] public static extern IntPtr wasmtime_context_get_data(IntPtr context);
    [DllImport(Lib)] public static extern void wasmtime_context_set_epoch_deadline(IntPtr context, ulong ticksBeyondCurrent);
    [DllImport(Lib)] public static extern void wasmtime_store_epoch_deadline_callback(IntPtr store,
        delegate* unmanaged<IntPtr, IntPtr, ulong*, byte*, IntPtr> callback, IntPtr data, delegate* unmanaged<IntPtr, void> finalizer);

    // ---- linker ----
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_new(IntPtr engine);
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_clone(IntPtr linker);
    [DllImport(Lib)] public static extern void wasmtime_linker_delete(IntPtr linker);
    [DllImport(Lib)] public static extern void wasmtime_linker_allow_shadowing(IntPtr linker, byte allow);
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_define(IntPtr linker, IntPtr context, byte* module, nuint moduleLength, byte* name, nuint nameLength, WasmtimeExtern* item);
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_define_func(IntPtr linker, byte* module, nuint moduleLength, byte* name, nuint nameLength, IntPtr funcType,
        delegate* unmanaged<IntPtr, IntPtr, WasmValue*, nuint, WasmValue*, nuint, IntPtr> callback, IntPtr data, delegate* unmanaged<IntPtr, void> finalizer);
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_define_async_func(IntPtr linker, byte* module, nuint moduleLength, byte* name, nuint nameLength, IntPtr funcType,
        delegate* unmanaged<IntPtr, IntPtr, WasmValue*, nuint, WasmValue*, nuint, IntPtr*, AsyncContinuation*, void> callback, IntPtr data, delegate* unmanaged<IntPtr, void> finalizer);
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_define_instance(IntPtr linker, IntPtr context, byte* name, nuint nameLength, WasmInstance* instance);
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_define_unknown_imports_as_traps(IntPtr linker, IntPtr module);
    [DllImport(Lib)] public static extern byte wasmtime_linker_get(IntPtr linker, IntPtr context, byte* module, nuint moduleLength, byte* name, nuint nameLength, WasmtimeExtern* item);
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_instantiate_pre(IntPtr linker, IntPtr module, IntPtr* instancePre);
    [DllImport(Lib)] public static extern IntPtr wasmtime_linker_instantiate_async(IntPtr linker, IntPtr context, IntPtr module, WasmInstance* instance, IntPtr* trap, IntPtr* error);
    [DllImport(Lib)] public static extern void wasmtime_instance_pre_delete(IntPtr instancePre);
    [DllImport(Lib)] public static extern IntPtr wasmtime_instance_pre_instantiate(IntPtr instancePre, IntPtr context, WasmInstance* instance, IntPtr* trap);
    [DllImport(Lib)] public static extern IntPtr wasmtime_instance_pre_instantiate_async(IntPtr instancePre, IntPtr context, WasmInstance* instance, IntPtr* trap, IntPtr* error);

    // ---- async driving ----
    [DllImport(Lib)] public static extern byte wasmtime_call_future_poll(IntPtr future);
    [DllImport(Lib)] public static extern void wasmtime_call_future_delete(IntPtr future);
    [DllImport(Lib)] public static extern IntPtr wasmtime_func_call(IntPtr context, WasmFunc* func, WasmValue* args, nuint argCount, WasmValue* results, nuint resultCount, IntPtr* trap);
    [DllImport(Lib)] public static extern IntPtr wasmtime_func_call_async(IntPtr context, WasmFunc* func, WasmValue* args, nuint argCount, WasmValue* results, nuint resultCount, IntPtr* trap, IntPtr* error);

    // ---- instances, callers, externs ----
    [DllImport(Lib)] public static extern byte wasmtime_instance_export_get(IntPtr context, WasmInstance* instance, byte* name, nuint nameLength, WasmtimeExtern* item);
    [DllImport(Lib)] public static extern byte wasmtime_instance_export_nth(IntPtr context, WasmInstance* instance, nuint index, byte** name, nuint* nameLength, WasmtimeExtern* item);
    [DllImport(Lib)] public static extern byte wasmtime_caller_export_get(IntPtr caller, byte* name, nuint nameLength, WasmtimeExtern* item);
    [DllImport(Lib)] public static extern IntPtr wasmtime_caller_context(IntPtr caller);
    [DllImport(Lib)] public static extern void wasmtime_func_new(IntPtr context, IntPtr funcType,
        delegate* unmanaged<IntPtr, IntPtr, WasmValue*, nuint, WasmValue*, nuint, IntPtr> callback, IntPtr env, delegate* unmanaged<IntPtr, void> finalizer, WasmFunc* result);
    [DllImport(Lib)] public static extern IntPtr wasmtime_func_type(IntPtr context, WasmFunc* func);
    [DllImport(Lib)] public static extern void wasmtime_val_unroot(WasmValue* value);

    // ---- memory, table, global ----
    [DllImport(Lib)] public static extern byte* wasmtime_memory_data(IntPtr context, WasmMemory* memory);
    [DllImport(Lib)] public static extern nuint wasmtime_memory_data_size(IntPtr context, WasmMemory* memory);
    [DllImport(Lib)] public static extern ulong wasmtime_memory_size(IntPtr context, WasmMemory* memory);
    [DllImport(Lib)] public static extern IntPtr wasmtime_memory_grow(IntPtr context, WasmMemory* memory, ulong delta, ulong* previousSize);
    [DllImport(Lib)] public static extern byte wasmtime_table_get(IntPtr context, WasmTable* table, ulong index, WasmValue* value);
    [DllImport(Lib)] public static extern IntPtr wasmtime_table_set(IntPtr context, WasmTable* table, ulong index, WasmValue* value);
    [DllImport(Lib)] public static extern ulong wasmtime_table_size(IntPtr context, WasmTable* table);
    [DllImport(Lib)] public static extern void wasmtime_global_get(IntPtr context, WasmGlobal* global, WasmValue* value);
    [DllImport(Lib)] public static extern IntPtr wasmtime_global_set(IntPtr context, WasmGlobal* global, WasmValue* value);
}

/// <summary><c>wasm_byte_vec_t</c> / <c>wasm_name_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct WasmByteVec
{
    public nuint Size;
    public byte* Data;

    public readonly string ToUtf8String()
    {
        if (Data == null || Size == 0) return "";
        var span = new ReadOnlySpan<byte>(Data, checked((int)Size));
        // Trap messages carry a trailing NUL.
        while (span.Length > 0 && span[^1] == 0) span = span[..^1];
        return System.Text.Encoding.UTF8.GetString(span);
    }
}

/// <summary>Any <c>wasm_*_vec_t</c> of pointers (valtypes, importtypes, exporttypes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct WasmPtrVec
{
    public nuint Size;
    public IntPtr* Data;
}

/// <summary><c>wasmtime_async_continuation_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct AsyncContinuation
{
    public delegate* unmanaged<IntPtr, byte> Callback;
    public IntPtr Env;
    public delegate* unmanaged<IntPtr, void> Finalizer;
}

/// <summary>
/// <c>wasmtime_extern_t</c>: kind byte at 0, payload union at 8. The union is 24 bytes in the v50 headers;
/// 48 bytes are reserved so a larger payload in a future build can never overrun this buffer.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct WasmtimeExtern
{
    [FieldOffset(0)] public byte Kind;
    [FieldOffset(8)] public WasmFunc Func;
    [FieldOffset(8)] public WasmGlobal Global;
    [FieldOffset(8)] public WasmTable Table;
    [FieldOffset(8)] public WasmMemory Memory;

    public const byte KindFunc = 0, KindGlobal = 1, KindTable = 2, KindMemory = 3, KindSharedMemory = 4;
}
