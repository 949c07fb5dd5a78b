using Spindle.Components.Host;
using Spindle.Components.Values;

namespace Spindle.Wasi.Preview2.Interfaces;

/// <summary>Typed access to lifted arguments. The runtime has already checked them against the declared types.</summary>
internal static class Args
{
    public static TSelf Self<TSelf>(object?[] args) where TSelf : class => At<TSelf>(args, 0);

    public static TValue At<TValue>(object?[] args, int index) where TValue : class =>
        args[index] as TValue ?? throw new InvalidOperationException($"argument {index} is {args[index]?.GetType().Name ?? "null"}, expected {typeof(TValue).Name}");

    public static ulong U64(object?[] args, int index) => Convert.ToUInt64(args[index]);

    public static uint U32(object?[] args, int index) => Convert.ToUInt32(args[index]);

    public static ushort U16(object?[] args, int index) => Convert.ToUInt16(args[index]);

    public static string Str(object?[] args, int index) => At<string>(args, index);

    public static ReadOnlyMemory<byte> Bytes(object? value) => value switch
    {
        byte[] b => b,
        System.Buffers.MemoryManager<byte> g => g.Memory,
        ReadOnlyMemory<byte> m => m,
        Memory<byte> m => m,
        _ => throw new InvalidOperationException($"expected list<u8>, got {value?.GetType().Name ?? "null"}"),
    };

    public static object?[] List(object? value) => value as object?[] ?? throw new InvalidOperationException($"expected a list, got {value?.GetType().Name ?? "null"}");

    /// <summary>Unwraps an option: null for none, the payload for some.</summary>
    public static object? Option(object? value) => value is Some s ? s.Value : null;

    /// <summary>Clamps a guest-supplied u64 length to an int, at most <paramref name="cap"/>.</summary>
    public static int Length(ulong len, int cap) => len > (ulong)cap ? cap : (int)len;

    public static WasiContext Wasi(HostCallContext context) =>
        context.StoreData as WasiContext ?? throw new InvalidOperationException("store data is not a WasiContext");
}
