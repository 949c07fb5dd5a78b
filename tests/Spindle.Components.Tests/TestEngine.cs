using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Values;
using Spindle.Wasmtime;

namespace Spindle.Components.Tests;

/// <summary>One engine for the test assembly (compiled artifacts cached in a private temp directory).</summary>
internal static class TestEngine
{
    public static readonly WasmEngine Engine = new(new EngineOptions
    {
        CacheDirectory = Path.Combine(Path.GetTempPath(), "spindle-components-tests-cache"),
    });

    public static Component Load(string componentWat, HostRegistry host) =>
        Component.Load(Engine, Wat.ToWasm(componentWat), host);

    /// <summary>A bump allocator module honouring alignment (what cabi_realloc must do), with a 2-page memory.</summary>
    public const string LibcModule = """
        (core module $libc
          (memory (export "memory") 2)
          (global $bump (mut i32) (i32.const 4096))
          (func (export "realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                                   (i32.sub (i32.const 0) (local.get 2))))
            (global.set $bump (i32.add (local.get $p) (local.get 3)))
            (local.get $p)))
        (core instance $libc (instantiate $libc))
        """;

    /// <summary>Structural equality of lifted values (arrays, byte arrays, Some, variants, results).</summary>
    public static bool DeepEqual(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (byte[] x, byte[] y) => x.AsSpan().SequenceEqual(y),
        (object?[] x, object?[] y) => x.Length == y.Length && x.Zip(y).All(p => DeepEqual(p.First, p.Second)),
        (Some x, Some y) => DeepEqual(x.Value, y.Value),
        (VariantValue x, VariantValue y) => x.Case == y.Case && DeepEqual(x.Payload, y.Payload),
        (ResultValue x, ResultValue y) => x.IsOk == y.IsOk && DeepEqual(x.Value, y.Value),
        (float x, float y) => x.Equals(y),
        (double x, double y) => x.Equals(y),
        _ => Equals(a, b),
    };

    public static string Show(object? v) => v switch
    {
        null => "null",
        byte[] b => $"bytes[{Convert.ToHexString(b)}]",
        object?[] a => "[" + string.Join(", ", a.Select(Show)) + "]",
        Some s => $"some({Show(s.Value)})",
        VariantValue vv => $"case{vv.Case}({Show(vv.Payload)})",
        ResultValue r => (r.IsOk ? "ok(" : "err(") + Show(r.Value) + ")",
        string s => '"' + s + '"',
        _ => $"{v} ({v.GetType().Name})",
    };
}
