using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>
/// A core module given the canonical ABI by a <see cref="CoreModuleBinding"/> (the modules of Spin's first SDKs):
/// its imports lowered with its own memory and realloc, its exports lifted with a post-return, core-level host
/// imports defined by the embedder, and clear load errors for what does not fit.
/// </summary>
public class CoreModuleBindingTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    // greet(name) calls the host's shout(name) -> string, then host "core" "log"(len) at the core level, and returns
    // the shouted text with its last byte replaced by "!", in its own memory (bump allocator from 1024; post-return
    // counts its calls in a global).
    private const string Module = """
        (module
          (import "old-shout" "shout" (func $shout (param i32 i32 i32)))
          (import "core" "log" (func $log (param i32)))
          (memory (export "memory") 1)
          (global $next (mut i32) (i32.const 1024))
          (global $posts (export "posts") (mut i32) (i32.const 0))
          (func $realloc (export "realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (global.get $next))
            (global.set $next (i32.add (global.get $next) (local.get 3)))
            (local.get $p))
          (func (export "greet") (param $ptr i32) (param $len i32) (result i32)
            (local $s i32) (local $n i32)
            (call $shout (local.get $ptr) (local.get $len) (i32.const 16))
            (local.set $s (i32.load (i32.const 16)))
            (local.set $n (i32.load (i32.const 20)))
            (call $log (local.get $n))
            (i32.store8 (i32.sub (i32.add (local.get $s) (local.get $n)) (i32.const 1)) (i32.const 33))
            (i32.store (i32.const 32) (local.get $s))
            (i32.store (i32.const 36) (local.get $n))
            (i32.const 32))
          (func (export "post-greet") (param i32)
            (global.set $posts (i32.add (global.get $posts) (i32.const 1)))))
        """;

    private static readonly FuncType Greet = T.Func([("name", T.String)], T.String);

    private static HostRegistry Host() =>
        new HostRegistry().Add(Shout());

    private static HostInterface Shout()
    {
        var i = new HostInterface("test:legacy/shout", "");
        // A trailing space for the guest to overwrite with "!" in the host's allocation.
        i.DefineFunc("shout", T.Func([("s", T.String)], T.String), (_, a) => ((string)a[0]!).ToUpperInvariant() + " ");
        return i;
    }

    private static CoreModuleBinding Binding(List<int> logged, string greetExport = "greet", bool optionalMissing = false) => new()
    {
        Import = (module, name) => module == "old-shout" ? ("test:legacy/shout", name) : null,
        CoreHostModules = new HashSet<string> { "core" },
        DefineCoreHost = (linker, _) => linker.DefineFunc("core", "log", WasmFuncType.Of([WasmValueKind.I32], []),
            (ref HostCaller caller, ReadOnlySpan<WasmValue> args, Span<WasmValue> results) => logged.Add(args[0].AsI32())),
        Exports =
        [
            new CoreModuleExport(greetExport, "test:legacy/greeter", "greet", Greet, PostReturn: "post-greet"),
            new CoreModuleExport("_initialize", "", "_initialize", T.Func([]), Optional: optionalMissing),
        ],
        Realloc = "realloc",
    };

    [Fact]
    public async Task Imports_are_lowered_with_the_modules_own_memory_and_exports_lifted_with_post_return()
    {
        var logged = new List<int>();
        var binding = Binding(logged, optionalMissing: true);
        using var component = Component.LoadCoreModule(Engine, Wat.ToWasm(Module), Host(), binding);
        Assert.Null(component.FindExport("", "_initialize")); // optional and absent
        using var store = new WasmStore(Engine);
        using var instance = await component.InstantiateAsync(store, null, Ct);
        var greet = component.FindExport("test:legacy/greeter", "greet")!;
        Assert.Equal("WORLD!", await instance.CallAsync(greet, "world"));
        Assert.Equal("ÉTÉ!", await instance.CallAsync(greet, "été"));
        Assert.Equal([6, 6], logged); // "WORLD " and "ÉTÉ " in UTF-8 bytes
    }

    [Fact]
    public void What_does_not_fit_is_refused_at_load_naming_it()
    {
        var wasm = Wat.ToWasm(Module);
        var e = Assert.Throws<ComponentLoadException>(() => Component.LoadCoreModule(Engine, wasm, Host(),
            new CoreModuleBinding { Import = (_, _) => null, Exports = [], CoreHostModules = new HashSet<string> { "core" }, DefineCoreHost = (_, _) => { } }));
        Assert.Contains("imports 'old-shout' 'shout', which this host does not provide", e.Message);

        e = Assert.Throws<ComponentLoadException>(() => Component.LoadCoreModule(Engine, wasm, Host(), Binding([], optionalMissing: false)));
        Assert.Contains("does not export '_initialize'", e.Message);

        e = Assert.Throws<ComponentLoadException>(() => Component.LoadCoreModule(Engine, wasm, Host(), Binding([], greetExport: "realloc", optionalMissing: true)));
        Assert.Contains("core function 'realloc' has type", e.Message);

        e = Assert.Throws<ComponentLoadException>(() => Component.LoadCoreModule(Engine, wasm, new HostRegistry(), Binding([], optionalMissing: true)));
        Assert.Contains("(test:legacy/shout), which this host does not provide", e.Message);
    }
}
