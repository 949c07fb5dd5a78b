using System.Security.Cryptography;
using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Preview2.Interfaces;

/// <summary><c>wasi:clocks/monotonic-clock</c>, <c>wasi:clocks/wall-clock</c> and <c>wasi:random/*</c>.</summary>
internal static class ClocksRandomInterfaces
{
    // Bounds one get-random-bytes call so a guest cannot make the host allocate gigabytes at once.
    private const int MaxRandomBytes = 16 * 1024 * 1024;

    public static RecordType Datetime { get; } = T.Record(("seconds", T.U64), ("nanoseconds", T.U32));

    public static HostInterface MonotonicClock(string version, IoInterfaces io)
    {
        var i = new HostInterface("wasi:clocks/monotonic-clock", version);
        i.UseResource("pollable", io.PollableType);
        i.DefineType("instant", T.U64);
        i.DefineType("duration", T.U64);
        i.DefineFunc("now", T.Func([], T.U64), (_, _) => Io.MonotonicClock.NowNanoseconds());
        i.DefineFunc("resolution", T.Func([], T.U64), (_, _) => 1UL);
        i.DefineFunc("subscribe-instant", T.Func([("when", T.U64)], T.Own(io.PollableType)),
            (_, a) => Io.MonotonicClock.SubscribeInstant(Args.U64(a, 0)));
        i.DefineFunc("subscribe-duration", T.Func([("when", T.U64)], T.Own(io.PollableType)),
            (_, a) => Io.MonotonicClock.SubscribeDuration(Args.U64(a, 0)));
        return i;
    }

    public static HostInterface WallClock(string version)
    {
        var i = new HostInterface("wasi:clocks/wall-clock", version);
        i.DefineType("datetime", Datetime);
        i.DefineFunc("now", T.Func([], Datetime), (_, _) => Now());
        i.DefineFunc("resolution", T.Func([], Datetime), (_, _) => new object?[] { 0UL, 100u });
        return i;
    }

    /// <summary>The current wall-clock time as a <c>datetime</c> record.</summary>
    public static object?[] Now()
    {
        var ticks = DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks;
        return [(ulong)(ticks / TimeSpan.TicksPerSecond), (uint)(ticks % TimeSpan.TicksPerSecond * 100)];
    }

    public static IEnumerable<HostInterface> Random(string version)
    {
        var random = new HostInterface("wasi:random/random", version);
        random.DefineFunc("get-random-bytes", T.Func([("len", T.U64)], T.List(T.U8)),
            (_, a) => RandomNumberGenerator.GetBytes(Args.Length(Args.U64(a, 0), MaxRandomBytes)));
        random.DefineFunc("get-random-u64", T.Func([], T.U64),
            (_, _) => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)));
        yield return random;

        var insecure = new HostInterface("wasi:random/insecure", version);
        insecure.DefineFunc("get-insecure-random-bytes", T.Func([("len", T.U64)], T.List(T.U8)), (_, a) =>
        {
            var bytes = new byte[Args.Length(Args.U64(a, 0), MaxRandomBytes)];
            System.Random.Shared.NextBytes(bytes);
            return bytes;
        });
        insecure.DefineFunc("get-insecure-random-u64", T.Func([], T.U64), (_, _) => (ulong)System.Random.Shared.NextInt64() ^ ((ulong)System.Random.Shared.Next(2) << 63));
        yield return insecure;

        var seed = new HostInterface("wasi:random/insecure-seed", version);
        seed.DefineFunc("insecure-seed", T.Func([], T.Tuple(T.U64, T.U64)),
            (_, _) => new object?[] { BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)), BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) });
        yield return seed;
    }
}
