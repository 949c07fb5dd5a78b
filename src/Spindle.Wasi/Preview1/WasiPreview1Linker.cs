using Spindle.Wasmtime;
using static Spindle.Wasmtime.WasmValueKind;
using F = Spindle.Wasi.Preview1.WasiPreview1Functions;

namespace Spindle.Wasi.Preview1;

/// <summary>Store data that carries a preview1 context (when the store data is not the context itself).</summary>
public interface IWasiPreview1State
{
    /// <summary>The preview1 state of this store.</summary>
    WasiPreview1Context Wasi { get; }
}

/// <summary>
/// Defines <c>wasi_snapshot_preview1</c> on a <see cref="WasmLinker"/> as C# host functions over the core API
/// (not Wasmtime's native WASI, which cannot take a streamed body and aborts the process when misused).
/// Every function reads the caller's <c>memory</c> export through a bounds-checked span. <c>fd_read</c>,
/// <c>fd_write</c> and <c>poll_oneoff</c> are async host functions: a guest waiting for request body bytes, for
/// client backpressure or for a timer is suspended on its fiber and holds no thread. The store data must be a
/// <see cref="WasiPreview1Context"/> or an <see cref="IWasiPreview1State"/>.
/// <para>
/// Host function bodies run on the guest's fiber stack (no thread hop per call). That relies on
/// Spindle.Wasmtime placing fiber stacks below thread stacks (its FiberStacks/FiberGuard): without that, a GC
/// during a host call intermittently crashed the process (WagiStressTests guards this).
/// </para>
/// </summary>
public static class WasiPreview1Linker
{
    /// <summary>The import module name.</summary>
    public const string ModuleName = "wasi_snapshot_preview1";

    private delegate WasiErrno SyncImpl(WasiPreview1Context ctx, Span<byte> memory, ReadOnlySpan<WasmValue> a);
    private delegate ValueTask<WasiErrno> AsyncImpl(WasiPreview1Context ctx, GuestMemoryAccessor memory, WasmValue[] a);

    private static readonly HashSet<string> Implemented =
    [
        "args_get",
        "args_sizes_get",
        "environ_get",
        "environ_sizes_get",
        "clock_res_get",
        "clock_time_get",
        "random_get",
        "fd_read",
        "fd_write",
        "poll_oneoff",
        "fd_close",
        "fd_fdstat_get",
        "fd_fdstat_set_flags",
        "fd_fdstat_set_rights",
        "fd_seek",
        "fd_tell",
        "fd_pread",
        "fd_prestat_get",
        "fd_prestat_dir_name",
        "fd_filestat_get",
        "fd_readdir",
        "fd_advise",
        "fd_datasync",
        "fd_sync",
        "fd_allocate",
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "fd_pwrite",
        "fd_renumber",
        "path_open",
        "path_filestat_get",
        "path_readlink",
        "path_create_directory",
        "path_filestat_set_times",
        "path_link",
        "path_remove_directory",
        "path_rename",
        "path_symlink",
        "path_unlink_file",
        "proc_raise",
        "sched_yield",
        "sock_accept",
        "sock_recv",
        "sock_send",
        "sock_shutdown",
        "proc_exit",
    ];

    /// <summary>Every preview1 function name <see cref="Define"/> defines (the whole witx set).</summary>
    public static IReadOnlyCollection<string> FunctionNames => Implemented;

    /// <summary>Defines all preview1 functions on <paramref name="linker"/>.</summary>
    public static void Define(WasmLinker linker)
    {
        ArgumentNullException.ThrowIfNull(linker);
        var l = linker;
        // args / environ / clocks / random
        Sync(l, "args_get", [I32, I32], (c, m, a) => F.ArgsGet(c, m, U(a[0]), U(a[1])));
        Sync(l, "args_sizes_get", [I32, I32], (c, m, a) => F.ArgsSizesGet(c, m, U(a[0]), U(a[1])));
        Sync(l, "environ_get", [I32, I32], (c, m, a) => F.EnvironGet(c, m, U(a[0]), U(a[1])));
        Sync(l, "environ_sizes_get", [I32, I32], (c, m, a) => F.EnvironSizesGet(c, m, U(a[0]), U(a[1])));
        Sync(l, "clock_res_get", [I32, I32], (c, m, a) => F.ClockResGet(m, U(a[0]), U(a[1])));
        Sync(l, "clock_time_get", [I32, I64, I32], (c, m, a) => F.ClockTimeGet(m, U(a[0]), (ulong)a[1].AsI64(), U(a[2])));
        Sync(l, "random_get", [I32, I32], (c, m, a) => F.RandomGet(m, U(a[0]), U(a[1])));

        // stdio and descriptors
        Async(l, "fd_read", [I32, I32, I32, I32], (c, m, a) => F.FdReadAsync(c, m, U(a[0]), U(a[1]), U(a[2]), U(a[3])));
        Async(l, "fd_write", [I32, I32, I32, I32], (c, m, a) => F.FdWriteAsync(c, m, U(a[0]), U(a[1]), U(a[2]), U(a[3])));
        Async(l, "poll_oneoff", [I32, I32, I32, I32], (c, m, a) => F.PollOneoffAsync(c, m, U(a[0]), U(a[1]), U(a[2]), U(a[3])));
        Sync(l, "fd_close", [I32], (c, m, a) => F.FdClose(c, U(a[0])));
        Sync(l, "fd_fdstat_get", [I32, I32], (c, m, a) => F.FdFdstatGet(c, m, U(a[0]), U(a[1])));
        Sync(l, "fd_fdstat_set_flags", [I32, I32], (c, m, a) => F.FdFdstatSetFlags(c, U(a[0]), U(a[1])));
        Sync(l, "fd_fdstat_set_rights", [I32, I64, I64], (c, m, a) => F.NoOp(c, U(a[0])));
        Sync(l, "fd_seek", [I32, I64, I32, I32], (c, m, a) => F.FdSeek(c, m, U(a[0]), a[1].AsI64(), U(a[2]), U(a[3])));
        Sync(l, "fd_tell", [I32, I32], (c, m, a) => F.FdTell(c, m, U(a[0]), U(a[1])));
        Sync(l, "fd_pread", [I32, I32, I32, I64, I32], (c, m, a) => F.FdPread(c, m, U(a[0]), U(a[1]), U(a[2]), a[3].AsI64(), U(a[4])));
        Sync(l, "fd_prestat_get", [I32, I32], (c, m, a) => F.FdPrestatGet(c, m, U(a[0]), U(a[1])));
        Sync(l, "fd_prestat_dir_name", [I32, I32, I32], (c, m, a) => F.FdPrestatDirName(c, m, U(a[0]), U(a[1]), U(a[2])));
        Sync(l, "fd_filestat_get", [I32, I32], (c, m, a) => F.FdFilestatGet(c, m, U(a[0]), U(a[1])));
        Sync(l, "fd_readdir", [I32, I32, I32, I64, I32], (c, m, a) => F.FdReaddir(c, m, U(a[0]), U(a[1]), U(a[2]), (ulong)a[3].AsI64(), U(a[4])));
        Sync(l, "fd_advise", [I32, I64, I64, I32], (c, m, a) => F.NoOp(c, U(a[0])));
        Sync(l, "fd_datasync", [I32], (c, m, a) => F.NoOp(c, U(a[0])));
        Sync(l, "fd_sync", [I32], (c, m, a) => F.NoOp(c, U(a[0])));
        Sync(l, "fd_allocate", [I32, I64, I64], (c, m, a) => F.ReadOnly(c, U(a[0])));
        Sync(l, "fd_filestat_set_size", [I32, I64], (c, m, a) => F.ReadOnly(c, U(a[0])));
        Sync(l, "fd_filestat_set_times", [I32, I64, I64, I32], (c, m, a) => F.ReadOnly(c, U(a[0])));
        Sync(l, "fd_pwrite", [I32, I32, I32, I64, I32], (c, m, a) => WasiErrno.BadF); // nothing is open for writing
        Sync(l, "fd_renumber", [I32, I32], (c, m, a) => WasiErrno.NoSys);

        // paths (read-only mounts)
        Sync(l, "path_open", [I32, I32, I32, I32, I32, I64, I64, I32, I32], (c, m, a) =>
            F.PathOpen(c, m, U(a[0]), U(a[1]), U(a[2]), U(a[3]), U(a[4]), (ulong)a[5].AsI64(), (ulong)a[6].AsI64(), U(a[7]), U(a[8])));
        Sync(l, "path_filestat_get", [I32, I32, I32, I32, I32], (c, m, a) => F.PathFilestatGet(c, m, U(a[0]), U(a[1]), U(a[2]), U(a[3]), U(a[4])));
        Sync(l, "path_readlink", [I32, I32, I32, I32, I32, I32], (c, m, a) => F.PathReadlink(c, m, U(a[0]), U(a[1]), U(a[2]), U(a[3]), U(a[4]), U(a[5])));
        Sync(l, "path_create_directory", [I32, I32, I32], (c, m, a) => F.ReadOnly(c, U(a[0])));
        Sync(l, "path_filestat_set_times", [I32, I32, I32, I32, I64, I64, I32], (c, m, a) => F.ReadOnly(c, U(a[0])));
        Sync(l, "path_link", [I32, I32, I32, I32, I32, I32, I32], (c, m, a) => F.ReadOnly(c, U(a[4])));
        Sync(l, "path_remove_directory", [I32, I32, I32], (c, m, a) => F.ReadOnly(c, U(a[0])));
        Sync(l, "path_rename", [I32, I32, I32, I32, I32, I32], (c, m, a) => F.ReadOnly(c, U(a[3])));
        Sync(l, "path_symlink", [I32, I32, I32, I32, I32], (c, m, a) => F.ReadOnly(c, U(a[2])));
        Sync(l, "path_unlink_file", [I32, I32, I32], (c, m, a) => F.ReadOnly(c, U(a[0])));

        // process and scheduling
        linker.DefineFunc(ModuleName, "proc_exit", WasmFuncType.Of([I32], []),
            (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
                F.ProcExit(ContextOf(caller.Data), U(args[0])));
        Sync(l, "proc_raise", [I32], (c, m, a) => WasiErrno.NoSys);
        Sync(l, "sched_yield", [], (c, m, a) => WasiErrno.Success);

        // sockets: none are preopened, so every descriptor is "not a socket" or bad
        Sync(l, "sock_accept", [I32, I32, I32], (c, m, a) => WasiErrno.NoSys);
        Sync(l, "sock_recv", [I32, I32, I32, I32, I32, I32], (c, m, a) => WasiErrno.NoSys);
        Sync(l, "sock_send", [I32, I32, I32, I32, I32], (c, m, a) => WasiErrno.NoSys);
        Sync(l, "sock_shutdown", [I32, I32], (c, m, a) => WasiErrno.NoSys);
    }

    /// <summary>
    /// Links the <c>wasi_snapshot_preview1</c> imports of <paramref name="module"/> that <see cref="Define"/> does
    /// not know (newer or non-standard names): returning <c>ENOSYS</c> when the import returns one <c>i32</c>,
    /// trapping with a clear message otherwise. Call after <see cref="Define"/>, once per module.
    /// </summary>
    public static void DefineMissing(WasmLinker linker, WasmModule module)
    {
        ArgumentNullException.ThrowIfNull(linker);
        ArgumentNullException.ThrowIfNull(module);
        foreach (var import in module.Imports)
        {
            if (import.Module != ModuleName || Implemented.Contains(import.Name) || import.FuncType is not { } type) continue;
            var name = import.Name;
            var returnsErrno = type.Results.Count == 1 && type.Results[0] == I32;
            linker.DefineFunc(ModuleName, name, type, (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
            {
                if (!returnsErrno) throw new NotSupportedException($"WASI function {ModuleName}.{name} is not implemented");
                results[0] = WasmValue.I32((int)WasiErrno.NoSys);
            });
        }
    }

    private static uint U(WasmValue v) => (uint)v.AsI32();

    private static WasiPreview1Context ContextOf(object? data) => data switch
    {
        WasiPreview1Context c => c,
        IWasiPreview1State s => s.Wasi,
        _ => throw new InvalidOperationException("the store data carries no WasiPreview1Context"),
    };

    private static void Sync(WasmLinker linker, string name, WasmValueKind[] parameters, SyncImpl impl)
    {
        System.Diagnostics.Debug.Assert(Implemented.Contains(name));
        linker.DefineFunc(ModuleName, name, WasmFuncType.Of(parameters, [I32]),
            (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
            {
                var ctx = ContextOf(caller.Data);
                // No memory export: every pointer is out of bounds, so pointer-taking calls answer EFAULT.
                var memory = caller.GetMemory() is { } m ? m.GetSpan(caller.Context) : Span<byte>.Empty;
                WasiErrno errno;
                try
                {
                    errno = impl(ctx, memory, args);
                }
                catch (Exception e) when (F.IsErrno(e))
                {
                    errno = F.ToErrno(e);
                }
                results[0] = WasmValue.I32((int)errno);
            });
    }

    private static void Async(WasmLinker linker, string name, WasmValueKind[] parameters, AsyncImpl impl)
    {
        System.Diagnostics.Debug.Assert(Implemented.Contains(name));
        linker.DefineAsyncFunc(ModuleName, name, WasmFuncType.Of(parameters, [I32]), (caller, args, results) =>
        {
            var ctx = ContextOf(caller.Data);
            var memory = caller.GetMemory();
            // Re-read on every access: the span is only valid until the guest runs again.
            GuestMemoryAccessor accessor = () => memory is { } m ? m.GetSpan(caller.Context) : Span<byte>.Empty;
            var pending = impl(ctx, accessor, args);
            if (pending.IsCompletedSuccessfully)
            {
                results[0] = WasmValue.I32((int)pending.Result);
                return ValueTask.CompletedTask;
            }
            return Complete(pending, results);
        });

        static async ValueTask Complete(ValueTask<WasiErrno> pending, WasmValue[] results) =>
            results[0] = WasmValue.I32((int)await pending.ConfigureAwait(false));
    }
}
