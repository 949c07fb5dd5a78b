using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>An import of a module: where it comes from, its kind and (for functions) its signature.</summary>
public sealed record WasmImport(string Module, string Name, WasmExternKind Kind, WasmFuncType? FuncType);

/// <summary>An export of a module: its name, kind and (for functions) its signature.</summary>
public sealed record WasmExport(string Name, WasmExternKind Kind, WasmFuncType? FuncType);

/// <summary>A compiled core module (<c>wasmtime_module_t</c>). Thread-safe; instantiate it in any number of stores.</summary>
public sealed unsafe class WasmModule : IDisposable
{
    private readonly NativeModuleHandle _handle;
    private IReadOnlyList<WasmImport>? _imports;
    private IReadOnlyList<WasmExport>? _exports;

    private WasmModule(WasmEngine engine, IntPtr handle)
    {
        Engine = engine;
        _handle = new NativeModuleHandle(handle);
    }

    /// <summary>The engine it was compiled for.</summary>
    public WasmEngine Engine { get; }

    internal IntPtr Handle => _handle.Ptr;
    internal NativeModuleHandle ModuleHandle => _handle;

    /// <summary>Validates and compiles a core wasm binary; errors carry Wasmtime's message.</summary>
    public static WasmModule Compile(WasmEngine engine, ReadOnlySpan<byte> wasm)
    {
        ArgumentNullException.ThrowIfNull(engine);
        IntPtr module;
        IntPtr error;
        fixed (byte* p = wasm)
        {
            error = Native.wasmtime_module_new(engine.Handle, p, (nuint)wasm.Length, &module);
        }
        NativeErrors.Check(error, "compiling wasm module");
        return new WasmModule(engine, module);
    }

    /// <summary>The compiled artifact (load it back with <see cref="DeserializeFile"/> on an engine with the same <see cref="WasmEngine.Fingerprint"/>).</summary>
    public byte[] Serialize()
    {
        WasmByteVec vec = default;
        NativeErrors.Check(Native.wasmtime_module_serialize(Handle, &vec), "serializing module");
        try
        {
            return new ReadOnlySpan<byte>(vec.Data, checked((int)vec.Size)).ToArray();
        }
        finally
        {
            Native.wasm_byte_vec_delete(&vec);
        }
    }

    /// <summary>
    /// Loads a serialized artifact by mapping the file (milliseconds). Wasmtime TRUSTS the file's contents:
    /// only load files this process (or a trusted one) wrote, from a private directory.
    /// </summary>
    public static WasmModule DeserializeFile(WasmEngine engine, string path)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var bytes = Utf8.Bytes(path + "\0");
        IntPtr module;
        IntPtr error;
        fixed (byte* p = bytes)
        {
            error = Native.wasmtime_module_deserialize_file(engine.Handle, p, &module);
        }
        NativeErrors.Check(error, $"loading compiled module '{path}'");
        return new WasmModule(engine, module);
    }

    /// <summary>The module's imports, in declaration order.</summary>
    public IReadOnlyList<WasmImport> Imports => _imports ??= ReadImports();

    /// <summary>The module's exports, in declaration order.</summary>
    public IReadOnlyList<WasmExport> Exports => _exports ??= ReadExports();

    private WasmImport[] ReadImports()
    {
        WasmPtrVec vec;
        Native.wasmtime_module_imports(Handle, &vec);
        try
        {
            var list = new WasmImport[(int)vec.Size];
            for (int i = 0; i < list.Length; i++)
            {
                var it = vec.Data[i];
                var (kind, ft) = Describe(Native.wasm_importtype_type(it));
                list[i] = new WasmImport(Native.wasm_importtype_module(it)->ToUtf8String(), Native.wasm_importtype_name(it)->ToUtf8String(), kind, ft);
            }
            return list;
        }
        finally
        {
            Native.wasm_importtype_vec_delete(&vec);
        }
    }

    private WasmExport[] ReadExports()
    {
        WasmPtrVec vec;
        Native.wasmtime_module_exports(Handle, &vec);
        try
        {
            var list = new WasmExport[(int)vec.Size];
            for (int i = 0; i < list.Length; i++)
            {
                var et = vec.Data[i];
                var (kind, ft) = Describe(Native.wasm_exporttype_type(et));
                list[i] = new WasmExport(Native.wasm_exporttype_name(et)->ToUtf8String(), kind, ft);
            }
            return list;
        }
        finally
        {
            Native.wasm_exporttype_vec_delete(&vec);
        }
    }

    private static (WasmExternKind, WasmFuncType?) Describe(IntPtr externType)
    {
        // wasm_externkind_t: 0 func, 1 global, 2 table, 3 memory (same numbering as WasmExternKind).
        var kind = (WasmExternKind)Native.wasm_externtype_kind(externType);
        if (kind != WasmExternKind.Func) return (kind, null);
        return (kind, WasmFuncType.FromNative(Native.wasm_externtype_as_functype_const(externType)));
    }

    /// <summary>Releases the module (instances already created keep working).</summary>
    public void Dispose() => _handle.Dispose();
}
