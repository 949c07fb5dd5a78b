using Spindle.Wasmtime;

namespace Spindle.Components.Tests;

/// <summary>The runtime's realloc calls from inside host functions depend on nested guest calls working on the fiber.</summary>
public class NestedCallProbeTests
{
    [Fact]
    public async Task Host_function_can_call_back_into_the_guest_sync_and_async()
    {
        using var engine = new WasmEngine();
        var wasm = Wat.ToWasm("""
            (module
              (import "h" "sync" (func $s (param i32) (result i32)))
              (import "h" "async" (func $a (param i32) (result i32)))
              (func (export "double") (param i32) (result i32) local.get 0 i32.const 2 i32.mul)
              (func (export "run") (param i32) (result i32)
                local.get 0 call $s call $a))
            """);
        using var module = WasmModule.Compile(engine, wasm);
        using var linker = new WasmLinker(engine);
        var ft = new WasmFuncType([WasmValueKind.I32], [WasmValueKind.I32]);
        linker.DefineFunc("h", "sync", ft, (ref HostCaller c, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) =>
        {
            var f = c.GetExport("double")!.Value.Func!.Value;
            Span<WasmValue> r = [WasmValue.I32(0)];
            NestedCall.Call(c.Context, f, [args[0]], r);
            results[0] = WasmValue.I32(r[0].AsI32() + 1);
        });
        linker.DefineAsyncFunc("h", "async", ft, async (info, args, results) =>
        {
            await Task.Delay(5);
            var f = info.GetExport("double")!.Value.Func!.Value;
            var x = args[0].AsI32();
            info.OnCompleted = (ref HostCaller c, Span<WasmValue> res) =>
            {
                Span<WasmValue> r = [WasmValue.I32(0)];
                NestedCall.Call(c.Context, f, [WasmValue.I32(x)], r);
                res[0] = WasmValue.I32(r[0].AsI32() + 1000);
            };
        });
        using var store = new WasmStore(engine);
        var inst = await linker.InstantiateAsync(store, module);
        var run = inst.GetFunc(store, "run");
        var result = await run.CallAsync(store, [WasmValue.I32(5)], 1);
        Assert.Equal(((5 * 2 + 1) * 2) + 1000, result[0].AsI32());
    }
}
