using System.Net;
using Spindle.Trigger.Http.Executors.Wagi;
using Spindle.Wasmtime;

namespace Spindle.Wagi.Tests;

/// <summary>
/// Hand-written modules for what C cannot easily do: bad guest pointers through the real binding, preview1
/// imports this host does not know, and imports from other modules.
/// </summary>
public sealed class WagiWatModuleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Writes "content-type: text/plain\n\n" then one letter per errno code (A + errno) for each probe.
    private const string Prelude = """
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 100) "content-type: text/plain\n\n")
        (func $write (param $ptr i32) (param $len i32)
          (i32.store (i32.const 0) (local.get $ptr))
          (i32.store (i32.const 4) (local.get $len))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
        (func $report (param $errno i32)
          (i32.store8 (i32.const 200) (i32.add (i32.const 65) (local.get $errno)))
          (call $write (i32.const 200) (i32.const 1)))
        """;

    private static WagiOptions Options(string wat) => new()
    {
        Engine = WagiTestServer.Engine,
        ComponentId = "wat",
        ModuleBytes = Wat.ToWasm(wat),
        UseArtifactCache = false,
    };

    [Fact]
    public async Task Bad_guest_pointers_give_efault_and_unknown_preview1_imports_give_enosys()
    {
        var wat = $$"""
            (module
              (import "wasi_snapshot_preview1" "fd_frobnicate" (func $frob (param i32) (result i32)))
              (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
              {{Prelude}}
              (func (export "_start")
                (call $write (i32.const 100) (i32.const 26))
                ;; iovec table past the end of memory -> EFAULT (21)
                (call $report (call $fd_write (i32.const 1) (i32.const 65532) (i32.const 1) (i32.const 8)))
                ;; iovec whose buffer runs past the end -> EFAULT
                (i32.store (i32.const 300) (i32.const 65000))
                (i32.store (i32.const 304) (i32.const 1000))
                (call $report (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 8)))
                ;; result pointer out of bounds -> EFAULT
                (call $report (call $args_sizes (i32.const -4) (i32.const 0)))
                ;; writing to stdin -> EBADF (8)
                (call $report (call $fd_write (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
                ;; an import this host does not implement -> ENOSYS (52)
                (call $report (call $frob (i32.const 0)))))
            """;
        await using var server = await WagiTestServer.StartAsync(Options(wat));
        using var response = await server.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var expected = new string([(char)('A' + 21), (char)('A' + 21), (char)('A' + 21), (char)('A' + 8), (char)('A' + 52)]);
        Assert.Equal(expected, await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public void Imports_outside_preview1_are_a_load_error_naming_the_import()
    {
        var wat = """
            (module
              (import "env" "host_thing" (func (param i32)))
              (memory (export "memory") 1)
              (func (export "_start")))
            """;
        var e = Assert.Throws<WagiLoadException>(() => WagiExecutor.Create(Options(wat)));
        Assert.Contains("env.host_thing", e.Message);
        Assert.Contains("'wat'", e.Message);
    }

    [Fact]
    public async Task A_module_without_memory_gets_efault_not_a_crash()
    {
        var wat = """
            (module
              (import "wasi_snapshot_preview1" "args_sizes_get" (func $a (param i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (func (export "_start")
                (if (i32.ne (call $a (i32.const 0) (i32.const 4)) (i32.const 21)) (then unreachable))
                (call $exit (i32.const 0))))
            """;
        await using var server = await WagiTestServer.StartAsync(Options(wat));
        using var response = await server.Client.GetAsync("/", Ct);
        // Exit 0 without output: no headers -> 500 (not a trap: the log says it wrote nothing).
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains(server.Logs.Lines, l => l.Contains("wrote nothing"));
    }
}
