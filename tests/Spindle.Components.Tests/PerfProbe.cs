using System.Diagnostics;
using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Types;
using Spindle.Wasmtime;

namespace Spindle.Components.Tests;

/// <summary>
/// A quick per-request cost probe (explicit: run with <c>-explicit only</c> in Release). Measured on the 2-core
/// dev VM with a pooling engine: new store + 2 core instantiations + a string round-trip call ≈ 19 µs.
/// </summary>
public class PerfProbe
{
    [Fact(Explicit = true)]
    public async Task Store_instantiate_and_call_per_request()
    {
        var iface = new HostInterface("test:host/echo", "0.2.3");
        iface.DefineFunc("echo", T.Func([("x", T.String)], T.String), (ctx, a) => a[0]);
        var wat = $$"""
            (component
              (import "test:host/echo@0.2.3" (instance $host (export "echo" (func (param "x" string) (result string)))))
              {{TestEngine.LibcModule}}
              (core func $echo (canon lower (func $host "echo") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
              (core module $main
                (import "host" "echo" (func $echo (param i32 i32 i32)))
                (func (export "run") (param i32 i32) (result i32) (call $echo (local.get 0) (local.get 1) (i32.const 16)) (i32.const 16)))
              (core instance $main (instantiate $main (with "host" (instance (export "echo" (func $echo))))))
              (func $run (param "x" string) (result string) (canon lift (core func $main "run") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
              (instance $exp (export "run" (func $run)))
              (export "test:guest/run@0.2.3" (instance $exp)))
            """;
        using var engine = new WasmEngine(new EngineOptions
        {
            Pooling = true,
            CacheDirectory = Path.Combine(Path.GetTempPath(), "spindle-components-tests-cache"),
        });
        using var component = Component.Load(engine, Wat.ToWasm(wat), new HostRegistry().Add(iface));
        var export = component.FindExport("test:guest/run@0.2.3", "run")!;
        const int n = 2000;
        var best = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                using var store = new WasmStore(engine);
                using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
                Assert.Equal("hello", await inst.CallAsync(export, "hello"));
            }
            best = Math.Min(best, sw.Elapsed.TotalMicroseconds / n);
        }
        TestContext.Current.SendDiagnosticMessage($"store + instantiate + call: {best:0.0} µs");
        Console.WriteLine($"store + instantiate + call: {best:0.0} µs");
        Assert.True(best < 1000, $"{best} µs per request");
    }

    [Fact(Explicit = true)]
    public async Task Real_js_component_instantiation()
    {
        var path = Path.Combine("/work/main/artifacts/fixtures", "js/hello.wasm");
        Assert.SkipWhen(!File.Exists(path), "fixture js/hello.wasm is not built");
        using var component = Component.Load(TestEngine.Engine, File.ReadAllBytes(path), new HostRegistry(), progress: null, stubMissing: true);
        const int n = 200;
        var best = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                using var store = new WasmStore(TestEngine.Engine);
                using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
            }
            best = Math.Min(best, sw.Elapsed.TotalMicroseconds / n);
        }
        Console.WriteLine($"JS component store + instantiate: {best:0.0} µs");
    }
}
