using System.Text;
using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>
/// Every value type crosses host → guest → host → guest memory → host: the host calls the guest's exported
/// <c>roundtrip(x: T) -> T</c>, whose core code passes its flat parameters straight to the host import
/// <c>echo(x: T) -> T</c>; the host echoes, its result is lowered into guest memory (or a flat result) and the
/// guest returns it. Core signatures are written by hand, so Wasmtime's link-time type check verifies the
/// flattening independently.
/// </summary>
public class RoundTripTests
{
    /// <param name="witType">The type in component text.</param>
    /// <param name="hostType">The same type for the host declaration.</param>
    /// <param name="coreParams">Flattened parameter core types (or "i32" for a params pointer when there are more than 16).</param>
    /// <param name="flatResult">The single flat result core type, or null when the result goes through a return pointer.</param>
    private static async Task<object?> RoundTrip(string witType, ValType hostType, string[] coreParams, string? flatResult, object? value,
        string encoding = "utf8", int? paramCount = null)
    {
        var n = coreParams.Length;
        var gets = string.Concat(Enumerable.Range(0, n).Select(i => $" local.get {i}"));
        var importSig = flatResult is null ? $"(param {string.Join(' ', coreParams)} i32)" : $"(param {string.Join(' ', coreParams)}) (result {flatResult})";
        var exportSig = flatResult is null ? $"(param {string.Join(' ', coreParams)}) (result i32)" : importSig;
        var body = flatResult is null ? $"{gets} i32.const 16 call $echo i32.const 16" : $"{gets} call $echo";
        var paramsText = paramCount is null ? $"(param \"x\" {witType})" : string.Concat(Enumerable.Range(0, paramCount.Value).Select(i => $"(param \"p{i}\" {witType})"));
        var wat = $$"""
            (component
              (import "test:host/echo@0.2.3" (instance $host
                (export "echo" (func {{paramsText}} (result {{witType}})))))
              {{LibcModule}}
              (core func $echo (canon lower (func $host "echo") (memory (core memory $libc "memory"))
                (realloc (core func $libc "realloc")) string-encoding={{encoding}}))
              (core module $main
                (import "host" "echo" (func $echo {{importSig}}))
                (func (export "run") {{exportSig}} {{body}}))
              (core instance $main (instantiate $main (with "host" (instance (export "echo" (func $echo))))))
              (func $run {{paramsText}} (result {{witType}})
                (canon lift (core func $main "run") (memory (core memory $libc "memory"))
                  (realloc (core func $libc "realloc")) string-encoding={{encoding}}))
              (instance $exp (export "roundtrip" (func $run)))
              (export "test:guest/run@0.2.3" (instance $exp)))
            """;
        var iface = new HostInterface("test:host/echo", "0.2.3");
        var ps = paramCount is null ? [("x", hostType)] : Enumerable.Range(0, paramCount.Value).Select(i => ($"p{i}", hostType)).ToArray();
        var seen = new List<object?[]>();
        iface.DefineFunc("echo", T.Func(ps, hostType), (ctx, args) => { seen.Add(args); return args[^1]; });
        using var component = Load(wat, new HostRegistry().Add(iface));
        using var store = new Spindle.Wasmtime.WasmStore(Engine);
        using var instance = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var export = component.FindExport("test:guest/run@0.2.3", "roundtrip")!;
        var args = paramCount is null ? new[] { value } : Enumerable.Range(0, paramCount.Value).Select(_ => value).ToArray();
        var result = await instance.CallAsync(export, args);
        Assert.Single(seen);
        Assert.True(DeepEqual(value, seen[0][^1]), $"host saw {Show(seen[0][^1])}, expected {Show(value)}");
        return result;
    }

    private static async Task Check(string witType, ValType hostType, string[] coreParams, string? flatResult, object? value, string encoding = "utf8")
    {
        var result = await RoundTrip(witType, hostType, coreParams, flatResult, value, encoding);
        Assert.True(DeepEqual(value, result), $"got {Show(result)}, expected {Show(value)}");
    }

    [Fact] public Task Bool() => Check("bool", T.Bool, ["i32"], "i32", true);
    [Fact] public Task S8() => Check("s8", T.S8, ["i32"], "i32", (sbyte)-5);
    [Fact] public Task U8() => Check("u8", T.U8, ["i32"], "i32", (byte)250);
    [Fact] public Task S16() => Check("s16", T.S16, ["i32"], "i32", (short)-30000);
    [Fact] public Task U16() => Check("u16", T.U16, ["i32"], "i32", (ushort)65000);
    [Fact] public Task S32() => Check("s32", T.S32, ["i32"], "i32", int.MinValue);
    [Fact] public Task U32() => Check("u32", T.U32, ["i32"], "i32", uint.MaxValue);
    [Fact] public Task S64() => Check("s64", T.S64, ["i64"], "i64", long.MinValue);
    [Fact] public Task U64() => Check("u64", T.U64, ["i64"], "i64", ulong.MaxValue);
    [Fact] public Task F32() => Check("f32", T.F32, ["f32"], "f32", 1.5f);
    [Fact] public Task F64() => Check("f64", T.F64, ["f64"], "f64", -2.25e300);
    [Fact] public Task Char() => Check("char", T.Char, ["i32"], "i32", new Rune(0x1F600));

    [Fact]
    public async Task F32_nan_is_canonicalized()
    {
        var odd = BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00001));
        var r = (float)(await RoundTrip("f32", T.F32, ["f32"], "f32", odd))!;
        Assert.Equal(0x7fc00000, BitConverter.SingleToInt32Bits(r));
    }

    [Theory]
    [InlineData("utf8")]
    [InlineData("utf16")]
    [InlineData("latin1+utf16")]
    public async Task Strings_in_every_encoding(string encoding)
    {
        foreach (var s in new[] { "", "hello", "héllo wörld", "日本語 and 😀 emoji", new string('x', 3000) })
            await Check("string", T.String, ["i32", "i32"], null, s, encoding);
    }

    [Fact] public Task Bytes() => Check("(list u8)", T.List(T.U8), ["i32", "i32"], null, new byte[] { 0, 1, 2, 255, 128 });
    [Fact] public Task Empty_bytes() => Check("(list u8)", T.List(T.U8), ["i32", "i32"], null, Array.Empty<byte>());

    [Fact]
    public Task Nested_lists_of_strings() => Check("(list (list string))", T.List(T.List(T.String)), ["i32", "i32"], null,
        new object?[] { new object?[] { "a", "bé" }, Array.Empty<object?>(), new object?[] { "😀" } });

    [Fact]
    public Task Record() => Check(
        """(record (field "a" u8) (field "b" string) (field "c" (list u16)) (field "d" u64))""",
        T.Record(("a", T.U8), ("b", T.String), ("c", T.List(T.U16)), ("d", T.U64)),
        ["i32", "i32", "i32", "i32", "i32", "i64"], null,
        new object?[] { (byte)7, "rec", new object?[] { (ushort)1, (ushort)65535 }, 42UL });

    [Fact]
    public Task Tuple() => Check("(tuple u32 f64 string)", T.Tuple(T.U32, T.F64, T.String), ["i32", "f64", "i32", "i32"], null,
        new object?[] { 9u, 0.5, "t" });

    private static readonly ValType ErrorVariant = T.Variant(("none", null), ("num", T.U32), ("big", T.U64), ("text", T.String), ("real", T.F32));
    private const string ErrorVariantText = """(variant (case "none") (case "num" u32) (case "big" u64) (case "text" string) (case "real" f32))""";

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public Task Variant_cases(int c)
    {
        object? payload = c switch { 0 => null, 1 => 77u, 2 => 1UL << 40, 3 => "vtext", _ => 3.5f };
        // disc + join(i32, i64, (i32,i32), f32) = i32, i64, i32
        return Check(ErrorVariantText, ErrorVariant, ["i32", "i64", "i32"], null, new VariantValue(c, payload));
    }

    [Fact]
    public async Task Enum_option_result_flags()
    {
        await Check("""(enum "a" "b" "c")""", T.Enum("a", "b", "c"), ["i32"], "i32", 2);
        await Check("(option u32)", T.Option(T.U32), ["i32", "i32"], null, new Some(5u));
        await Check("(option u32)", T.Option(T.U32), ["i32", "i32"], null, null);
        await Check("(option (option string))", T.Option(T.Option(T.String)), ["i32", "i32", "i32", "i32"], null, new Some(null));
        await Check("(result string (error u8))", T.Result(T.String, T.U8), ["i32", "i32", "i32"], null, ResultValue.Ok("fine"));
        await Check("(result string (error u8))", T.Result(T.String, T.U8), ["i32", "i32", "i32"], null, ResultValue.Err((byte)3));
        await Check("(result)", T.Result(), ["i32"], "i32", ResultValue.Err());
        await Check("""(flags "r" "w" "x")""", T.Flags("r", "w", "x"), ["i32"], "i32", 0b101u);
        var many = Enumerable.Range(0, 20).Select(i => $"\"f{i}\"");
        await Check($"(flags {string.Join(' ', many)})", T.Flags(Enumerable.Range(0, 20).Select(i => $"f{i}").ToArray()), ["i32"], "i32", (1u << 19) | 1u);
    }

    [Fact]
    public Task Deeply_nested() => Check(
        """(list (record (field "k" string) (field "v" (option (result (list u8) (error (variant (case "x") (case "y" string))))))))""",
        T.List(T.Record(("k", T.String), ("v", T.Option(T.Result(T.List(T.U8), T.Variant(("x", null), ("y", T.String))))))),
        ["i32", "i32"], null,
        new object?[]
        {
            new object?[] { "one", new Some(ResultValue.Ok(new byte[] { 1, 2 })) },
            new object?[] { "two", new Some(ResultValue.Err(new VariantValue(1, "why"))) },
            new object?[] { "three", null },
        });

    [Fact]
    public async Task More_than_16_flat_params_go_through_memory()
    {
        // 9 string params = 18 flat values: both the lowered import and the lifted export take a params pointer.
        var result = await RoundTrip("string", T.String, ["i32"], null, "many", paramCount: 9);
        Assert.Equal("many", result);
    }
}
