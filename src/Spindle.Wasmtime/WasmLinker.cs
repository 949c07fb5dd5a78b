using System.Runtime.InteropServices;
using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>
/// Name-based import resolution (<c>wasmtime_linker_t</c>). Host functions defined here are store-independent
/// and shared by every store; <see cref="Clone"/> is cheap, so a per-request copy can add store-specific
/// externs (<see cref="Define(WasmStore, string, string, WasmExtern)"/>, <see cref="DefineInstance"/>). Definitions are not thread-safe; instantiating
/// from several threads at once is.
/// <para>Once an async host function is defined, the *_async entry points are mandatory (this layer only uses them).</para>
/// </summary>
public sealed unsafe class WasmLinker : IDisposable
{
    private readonly LinkerHandle _handle;
    private bool _allowShadowing;

    /// <summary>Creates an empty linker for <paramref name="engine"/>.</summary>
    public WasmLinker(WasmEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Engine = engine;
        _handle = new LinkerHandle(Native.wasmtime_linker_new(engine.Handle));
    }

    private WasmLinker(WasmEngine engine, IntPtr handle, bool allowShadowing)
    {
        Engine = engine;
        _handle = new LinkerHandle(handle);
        _allowShadowing = allowShadowing;
    }

    /// <summary>The engine.</summary>
    public WasmEngine Engine { get; }

    internal IntPtr Handle => _handle.Ptr;

    /// <summary>Whether later definitions may replace earlier ones with the same name (default false).</summary>
    public bool AllowShadowing
    {
        get => _allowShadowing;
        set
        {
            Native.wasmtime_linker_allow_shadowing(Handle, value ? (byte)1 : (byte)0);
            _allowShadowing = value;
        }
    }

    /// <summary>A copy sharing all host definitions (<c>wasmtime_linker_clone</c>); dispose it separately.</summary>
    public WasmLinker Clone() => new(Engine, Native.wasmtime_linker_clone(Handle), _allowShadowing);

    /// <summary>Defines a synchronous host function <paramref name="module"/>.<paramref name="name"/>.</summary>
    public void DefineFunc(string module, string name, WasmFuncType type, SyncHostCallback callback)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(callback);
        DefineHostFunc(module, name, type, async: false, new HostTrampolines.Entry<SyncHostCallback>(callback, type));
    }

    /// <summary>
    /// Defines an async host function: the guest is suspended (no thread blocked) until the callback's task
    /// completes. Requires the async entry points, which this layer always uses.
    /// </summary>
    public void DefineAsyncFunc(string module, string name, WasmFuncType type, AsyncHostCallback callback)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(callback);
        DefineHostFunc(module, name, type, async: true, new HostTrampolines.Entry<AsyncHostCallback>(callback, type));
    }

    private void DefineHostFunc(string module, string name, WasmFuncType type, bool async, object entry)
    {
        var env = GCHandle.ToIntPtr(GCHandle.Alloc(entry));
        var ft = type.ToNative();
        var m = Utf8.Bytes(module);
        var n = Utf8.Bytes(name);
        IntPtr error;
        fixed (byte* pm = m)
        fixed (byte* pn = n)
        {
            // On failure Wasmtime drops the definition and runs the finalizer, freeing the GCHandle.
            error = async
                ? Native.wasmtime_linker_define_async_func(Handle, pm, (nuint)m.Length, pn, (nuint)n.Length, ft,
                    &HostTrampolines.Async, env, &GCHandleFinalizer.Free)
                : Native.wasmtime_linker_define_func(Handle, pm, (nuint)m.Length, pn, (nuint)n.Length, ft,
                    &HostTrampolines.Sync, env, &GCHandleFinalizer.Free);
        }
        Native.wasm_functype_delete(ft);
        NativeErrors.Check(error, $"defining {(async ? "async " : "")}host function {module}.{name}");
    }

    /// <summary>Defines an extern that belongs to <paramref name="store"/> (only usable with that store).</summary>
    public void Define(WasmStore store, string module, string name, WasmExtern item)
    {
        ArgumentNullException.ThrowIfNull(store);
        var raw = item.Raw;
        var m = Utf8.Bytes(module);
        var n = Utf8.Bytes(name);
        fixed (byte* pm = m)
        fixed (byte* pn = n)
        {
            NativeErrors.Check(Native.wasmtime_linker_define(Handle, store.Context, pm, (nuint)m.Length, pn, (nuint)n.Length, &raw),
                $"defining {module}.{name}");
        }
    }

    /// <summary>
    /// <see cref="Define(WasmStore, string, string, WasmExtern)"/> with names already encoded as UTF-8: per-request
    /// replay defines hundreds of imports, and encoding (and the error text) would otherwise allocate on every one.
    /// </summary>
    public void Define(WasmStore store, ReadOnlySpan<byte> moduleUtf8, ReadOnlySpan<byte> nameUtf8, WasmExtern item)
    {
        ArgumentNullException.ThrowIfNull(store);
        var raw = item.Raw;
        IntPtr error;
        fixed (byte* pm = moduleUtf8)
        fixed (byte* pn = nameUtf8)
        {
            error = Native.wasmtime_linker_define(Handle, store.Context, pm, (nuint)moduleUtf8.Length, pn, (nuint)nameUtf8.Length, &raw);
        }
        if (error != IntPtr.Zero)
            throw NativeErrors.FromError(error, $"defining {System.Text.Encoding.UTF8.GetString(moduleUtf8)}.{System.Text.Encoding.UTF8.GetString(nameUtf8)}");
    }

    /// <summary>Defines every export of <paramref name="instance"/> under module name <paramref name="name"/>.</summary>
    public void DefineInstance(WasmStore store, string name, WasmInstance instance)
    {
        ArgumentNullException.ThrowIfNull(store);
        var n = Utf8.Bytes(name);
        fixed (byte* pn = n)
        {
            NativeErrors.Check(Native.wasmtime_linker_define_instance(Handle, store.Context, pn, (nuint)n.Length, &instance),
                $"defining instance {name}");
        }
    }

    /// <summary>Satisfies every still-unknown function import of <paramref name="module"/> with a function that traps.</summary>
    public void DefineUnknownImportsAsTraps(WasmModule module)
    {
        ArgumentNullException.ThrowIfNull(module);
        NativeErrors.Check(Native.wasmtime_linker_define_unknown_imports_as_traps(Handle, module.Handle), "defining unknown imports as traps");
    }

    /// <summary>Looks up a definition, materialised in <paramref name="store"/>; null when undefined.</summary>
    public WasmExtern? Get(WasmStore store, string module, string name)
    {
        ArgumentNullException.ThrowIfNull(store);
        var m = Utf8.Bytes(module);
        var n = Utf8.Bytes(name);
        WasmtimeExtern item;
        fixed (byte* pm = m)
        fixed (byte* pn = n)
        {
            if (Native.wasmtime_linker_get(Handle, store.Context, pm, (nuint)m.Length, pn, (nuint)n.Length, &item) == 0) return null;
        }
        return new WasmExtern(item);
    }

    /// <summary>
    /// Instantiates <paramref name="module"/> in <paramref name="store"/> (running its start function on a fiber).
    /// Link errors and pool exhaustion throw <see cref="WasmtimeException"/>; a trapping start function
    /// throws <see cref="WasmTrapException"/>.
    /// </summary>
    public ValueTask<WasmInstance> InstantiateAsync(WasmStore store, WasmModule module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return CallFutureDriver.StartInstantiation(store, _handle, module.ModuleHandle, (Linker: this, Module: module), static (call, s) =>
            Native.wasmtime_linker_instantiate_async(s.Linker._handle.DangerousGetHandle(), call.Context,
                s.Module.ModuleHandle.DangerousGetHandle(), call.Instance, call.TrapSlot, call.ErrorSlot));
    }

    /// <summary>Type-checks <paramref name="module"/>'s imports once, for fast repeated instantiation.</summary>
    public WasmInstancePre InstantiatePre(WasmModule module)
    {
        ArgumentNullException.ThrowIfNull(module);
        IntPtr pre;
        NativeErrors.Check(Native.wasmtime_linker_instantiate_pre(Handle, module.Handle, &pre), "pre-instantiating module");
        return new WasmInstancePre(new InstancePreHandle(pre), module);
    }

    /// <summary>Deletes the linker (host functions live on in clones and instance-pres that use them).</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>A module whose imports were resolved and type-checked once (<c>wasmtime_instance_pre_t</c>). Thread-safe.</summary>
public sealed unsafe class WasmInstancePre : IDisposable
{
    private readonly InstancePreHandle _handle;

    internal WasmInstancePre(InstancePreHandle handle, WasmModule module)
    {
        _handle = handle;
        Module = module;
    }

    /// <summary>The module it instantiates.</summary>
    public WasmModule Module { get; }

    /// <summary>Instantiates in <paramref name="store"/> (see <see cref="WasmLinker.InstantiateAsync(WasmStore, WasmModule)"/>).</summary>
    public ValueTask<WasmInstance> InstantiateAsync(WasmStore store) =>
        CallFutureDriver.StartInstantiation(store, _handle, null, this, static (call, pre) =>
            Native.wasmtime_instance_pre_instantiate_async(pre._handle.DangerousGetHandle(), call.Context,
                call.Instance, call.TrapSlot, call.ErrorSlot));

    /// <summary>
    /// Instantiates in <paramref name="store"/> on the calling thread, without a fiber or a future, if Wasmtime
    /// allows it: for a module that has no start function and imports no async host function, in a store that
    /// has not run async work yet (Wasmtime then requires the async entry points). Saves a fiber per instantiation.
    /// Returns false, having done nothing, when the store requires <see cref="InstantiateAsync"/>.
    /// </summary>
    public bool TryInstantiate(WasmStore store, out WasmInstance instance)
    {
        ArgumentNullException.ThrowIfNull(store);
        instance = default;
        var state = store.State;
        if (state.AsyncUsed) return false;
        state.Enter();
        bool storeRef = false, preRef = false;
        try
        {
            store.Handle.DangerousAddRef(ref storeRef);
            _handle.DangerousAddRef(ref preRef);
            WasmInstance created;
            IntPtr trap = IntPtr.Zero;
            var error = Native.wasmtime_instance_pre_instantiate(_handle.DangerousGetHandle(), store.Context, &created, &trap);
            if (trap != IntPtr.Zero)
            {
                if (error != IntPtr.Zero) Native.wasmtime_error_delete(error);
                throw NativeErrors.FromTrap(trap, state.TakeHostFault());
            }
            if (error != IntPtr.Zero) throw NativeErrors.FromError(error, inner: state.TakeHostFault());
            instance = created;
            return true;
        }
        finally
        {
            if (preRef) _handle.DangerousRelease();
            if (storeRef) store.Handle.DangerousRelease();
            state.Exit();
        }
    }

    /// <summary>Deletes the native instance-pre.</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>Keeps SafeHandles referenced (not released) while a native future points at them.</summary>
internal sealed class HandleRefs : IDisposable
{
    private readonly List<SafeHandle> _held = new(2);

    public void Add(SafeHandle handle)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        if (added) _held.Add(handle);
    }

    public void Dispose()
    {
        foreach (var h in _held) h.DangerousRelease();
        _held.Clear();
    }
}
