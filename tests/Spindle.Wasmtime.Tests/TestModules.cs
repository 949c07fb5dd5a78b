namespace Spindle.Wasmtime.Tests;

/// <summary>WAT sources shared by the tests (compiled in-process with <see cref="Wat.ToWasm"/>).</summary>
internal static class TestModules
{
    public const string Main = """
        (module
          (import "host" "add3" (func $add3 (param i32 i64 f64) (result i64)))
          (import "host" "slow" (func $slow (param i32) (result i32)))
          (memory (export "memory") 1)
          (global $g (export "counter") (mut i32) (i32.const 5))
          (table (export "table") 2 funcref)
          (elem (i32.const 0) $boom)
          (func (export "sum4") (param i32 i64 f32 f64) (result f64 i64 i32)
            local.get 3
            local.get 2 f64.promote_f32 f64.add
            local.get 0 f64.convert_i32_s f64.add
            local.get 1 f64.convert_i64_s f64.add
            local.get 1 i64.const 1 i64.add
            local.get 0 i32.const 1 i32.add)
          (func (export "call_add3") (param i32 i64 f64) (result i64)
            local.get 0 local.get 1 local.get 2 call $add3)
          (func (export "call_slow") (param i32) (result i32)
            local.get 0 call $slow)
          (func (export "call_slow_twice") (param i32) (result i32)
            local.get 0 call $slow call $slow)
          (func $boom (export "boom") unreachable)
          (func (export "spin") (loop br 0))
          (func $recurse (export "recurse") call $recurse)
          (func (export "oob") (result i32) i32.const -1 i32.load)
          (func (export "count") (param $n i32) (result i32) (local $i i32)
            (block $done
              (loop $l
                (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $l)))
            local.get $i)
          (func (export "store8") (param i32 i32) local.get 0 local.get 1 i32.store8)
          (func (export "load8") (param i32) (result i32) local.get 0 i32.load8_u))
        """;

    /// <summary>Only the async import, for the concurrency test.</summary>
    public const string SlowOnly = """
        (module
          (import "host" "slow" (func $slow (param i32) (result i32)))
          (func (export "run") (param i32) (result i32) local.get 0 call $slow))
        """;

    public static readonly WasmFuncType Add3Type = WasmFuncType.Of([WasmValueKind.I32, WasmValueKind.I64, WasmValueKind.F64], [WasmValueKind.I64]);
    public static readonly WasmFuncType I32ToI32 = WasmFuncType.Of([WasmValueKind.I32], [WasmValueKind.I32]);

    public static WasmModule Compile(WasmEngine engine, string wat) => WasmModule.Compile(engine, Wat.ToWasm(wat));

    /// <summary>A linker with host.add3 (sync: i32+i64+f64 as i64) and host.slow (async: waits, returns 2x).</summary>
    public static WasmLinker MainLinker(WasmEngine engine, int slowMs = 20)
    {
        var linker = new WasmLinker(engine);
        linker.DefineFunc("host", "add3", Add3Type, static (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            results[0] = WasmValue.I64(args[0].AsI32() + args[1].AsI64() + (long)args[2].AsF64());
        });
        linker.DefineAsyncFunc("host", "slow", I32ToI32, async (caller, args, results) =>
        {
            await Task.Delay(slowMs).ConfigureAwait(false);
            results[0] = WasmValue.I32(args[0].AsI32() * 2);
        });
        return linker;
    }
}
