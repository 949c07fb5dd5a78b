using System.Diagnostics;
using System.Security.Cryptography;
using static Spindle.Wasi.Preview1.WasiAbi;

namespace Spindle.Wasi.Preview1;

/// <summary>Returns the guest memory as it is now (re-read after every await: the guest may grow it between calls).</summary>
public delegate Span<byte> GuestMemoryAccessor();

/// <summary>
/// The preview1 functions that do not touch files: args, environ, clocks, random, stdio, proc, poll.
/// Each returns an errno; <see cref="WasiErrnoException"/> thrown inside is turned into its errno by <see cref="ToErrno"/>.
/// </summary>
internal static partial class WasiPreview1Functions
{
    /// <summary>Maps the exceptions a host function may raise for guest mistakes to errno; everything else traps.</summary>
    public static WasiErrno ToErrno(Exception e) => e switch
    {
        WasiErrnoException w => w.Errno,
        FileNotFoundException or DirectoryNotFoundException => WasiErrno.NoEnt,
        UnauthorizedAccessException => WasiErrno.Access,
        PathTooLongException => WasiErrno.NameTooLong,
        IOException => WasiErrno.Io,
        _ => throw new InvalidOperationException("not an errno exception", e),
    };

    public static bool IsErrno(Exception e) =>
        e is WasiErrnoException or IOException or UnauthorizedAccessException;

    // ---- args / environ ------------------------------------------------------------------------------------

    public static WasiErrno ArgsSizesGet(WasiPreview1Context ctx, Span<byte> memory, uint countPtr, uint sizePtr) =>
        SizesGet(ctx.ArgBytes, new GuestMemory(memory), countPtr, sizePtr);

    public static WasiErrno ArgsGet(WasiPreview1Context ctx, Span<byte> memory, uint pointers, uint buffer) =>
        StringsGet(ctx.ArgBytes, new GuestMemory(memory), pointers, buffer);

    public static WasiErrno EnvironSizesGet(WasiPreview1Context ctx, Span<byte> memory, uint countPtr, uint sizePtr) =>
        SizesGet(ctx.EnvBytes, new GuestMemory(memory), countPtr, sizePtr);

    public static WasiErrno EnvironGet(WasiPreview1Context ctx, Span<byte> memory, uint pointers, uint buffer) =>
        StringsGet(ctx.EnvBytes, new GuestMemory(memory), pointers, buffer);

    private static WasiErrno SizesGet(byte[][] strings, GuestMemory memory, uint countPtr, uint sizePtr)
    {
        long total = 0;
        foreach (var s in strings) total += s.Length;
        if (total > uint.MaxValue) return WasiErrno.Overflow;
        memory.WriteU32(countPtr, (uint)strings.Length);
        memory.WriteU32(sizePtr, (uint)total);
        return WasiErrno.Success;
    }

    private static WasiErrno StringsGet(byte[][] strings, GuestMemory memory, uint pointers, uint buffer)
    {
        var cursor = buffer;
        for (var i = 0; i < strings.Length; i++)
        {
            strings[i].CopyTo(memory.Slice(cursor, (uint)strings[i].Length));
            memory.WriteU32(checked(pointers + (uint)i * 4), cursor);
            cursor = checked(cursor + (uint)strings[i].Length);
        }
        return WasiErrno.Success;
    }

    // ---- clocks / random -----------------------------------------------------------------------------------

    public static WasiErrno ClockResGet(Span<byte> memory, uint clockId, uint resultPtr)
    {
        ulong resolution = clockId switch
        {
            ClockRealtime => 100, // DateTime ticks
            ClockMonotonic => Math.Max(1UL, (ulong)(1_000_000_000 / Stopwatch.Frequency)),
            _ => throw new WasiErrnoException(WasiErrno.Inval),
        };
        new GuestMemory(memory).WriteU64(resultPtr, resolution);
        return WasiErrno.Success;
    }

    public static WasiErrno ClockTimeGet(Span<byte> memory, uint clockId, ulong precision, uint resultPtr)
    {
        _ = precision;
        new GuestMemory(memory).WriteU64(resultPtr, Now(clockId));
        return WasiErrno.Success;
    }

    private static ulong Now(uint clockId) => clockId switch
    {
        ClockRealtime => (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100,
        ClockMonotonic => MonotonicNanos(),
        _ => throw new WasiErrnoException(WasiErrno.Inval),
    };

    private static ulong MonotonicNanos()
    {
        // The OS monotonic clock (no process-relative origin: a lazily initialised static could be read before
        // it is set and give a negative time). Int128 avoids overflow of ticks * 1e9.
        return (ulong)((Int128)Stopwatch.GetTimestamp() * 1_000_000_000 / Stopwatch.Frequency);
    }

    public static WasiErrno RandomGet(Span<byte> memory, uint buffer, uint length)
    {
        RandomNumberGenerator.Fill(new GuestMemory(memory).Slice(buffer, length));
        return WasiErrno.Success;
    }

    // ---- proc / sched --------------------------------------------------------------------------------------

    public static void ProcExit(WasiPreview1Context ctx, uint code)
    {
        ctx.ExitCode = (int)code;
        throw new WasiExitException((int)code);
    }

    // ---- fd_write / fd_read (async: stdio waits on the client) ---------------------------------------------

    public static async ValueTask<WasiErrno> FdWriteAsync(
        WasiPreview1Context ctx, GuestMemoryAccessor memory, uint fd, uint iovs, uint iovsLength, uint writtenPtr)
    {
        IWasiOutput output;
        try
        {
            output = FdWriteNow(ctx, memory(), fd, iovs, iovsLength, writtenPtr);
        }
        catch (Exception e) when (IsErrno(e))
        {
            return ToErrno(e) == WasiErrno.Io ? WasiErrno.Pipe : ToErrno(e);
        }
        if (output.FlushPending)
        {
            try
            {
                await output.FlushAsync(ctx.Cancellation).ConfigureAwait(false);
            }
            catch (IOException)
            {
                return WasiErrno.Pipe;
            }
        }
        return WasiErrno.Success;
    }

    private static IWasiOutput FdWriteNow(WasiPreview1Context ctx, Span<byte> span, uint fd, uint iovs, uint count, uint writtenPtr)
    {
        var memory = new GuestMemory(span);
        var output = ctx.Fds.Get(fd) switch
        {
            StdioFd { Number: 1 } => ctx.Stdout,
            StdioFd { Number: 2 } => ctx.Stderr,
            _ => throw new WasiErrnoException(WasiErrno.BadF), // stdin, files and directories are read-only
        };
        memory.Slice(writtenPtr, 4);
        ulong total = 0;
        foreach (var v in memory.ReadIoVecs(iovs, count))
        {
            output.Write(memory.Slice(v.Ptr, v.Len));
            total += v.Len;
        }
        memory.WriteU32(writtenPtr, (uint)Math.Min(total, uint.MaxValue));
        return output;
    }

    public static async ValueTask<WasiErrno> FdReadAsync(
        WasiPreview1Context ctx, GuestMemoryAccessor memory, uint fd, uint iovs, uint iovsLength, uint readPtr)
    {
        while (true)
        {
            try
            {
                if (FdReadNow(ctx, memory(), fd, iovs, iovsLength, readPtr))
                    return WasiErrno.Success;
            }
            catch (Exception e) when (IsErrno(e))
            {
                return ToErrno(e);
            }
            // Nothing buffered on stdin: wait without holding a thread, then read again.
            await ctx.Stdin.WaitAsync(ctx.Cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Reads what is available now; false when stdin has nothing buffered yet.</summary>
    private static bool FdReadNow(WasiPreview1Context ctx, Span<byte> span, uint fd, uint iovs, uint count, uint readPtr)
    {
        var memory = new GuestMemory(span);
        var entry = ctx.Fds.Get(fd);
        memory.Slice(readPtr, 4);
        var vectors = memory.ReadIoVecs(iovs, count);
        ulong total = 0;
        switch (entry)
        {
            case StdioFd { Number: 0 }:
                foreach (var v in vectors)
                {
                    if (v.Len == 0) continue;
                    var n = ctx.Stdin.TryRead(memory.Slice(v.Ptr, v.Len));
                    if (n < 0)
                    {
                        if (total == 0) return false;
                        break;
                    }
                    total += (uint)n;
                    if (n < v.Len) break; // short read: give the guest what we have
                }
                break;
            case FileFd file:
                total = ReadFile(file, memory, vectors, file.Position);
                file.Position += (long)total;
                break;
            case DirectoryFd:
                throw new WasiErrnoException(WasiErrno.IsDir);
            default:
                throw new WasiErrnoException(WasiErrno.BadF);
        }
        memory.WriteU32(readPtr, (uint)total);
        return true;
    }

    private static ulong ReadFile(FileFd file, GuestMemory memory, IoVec[] vectors, long offset)
    {
        ulong total = 0;
        foreach (var v in vectors)
        {
            var n = RandomAccess.Read(file.Handle, memory.Slice(v.Ptr, v.Len), offset + (long)total);
            total += (uint)n;
            if (n < v.Len) break;
        }
        return total;
    }

    // ---- poll_oneoff ---------------------------------------------------------------------------------------

    private readonly record struct Subscription(ulong UserData, byte Tag, uint ClockOrFd, ulong Timeout, ushort Flags);

    public static async ValueTask<WasiErrno> PollOneoffAsync(
        WasiPreview1Context ctx, GuestMemoryAccessor memory, uint input, uint output, uint count, uint eventsPtr)
    {
        Subscription[] subs;
        long waitNanos;
        try
        {
            if (count == 0) return WasiErrno.Inval;
            subs = ReadSubscriptions(memory(), input, output, count, eventsPtr);
            if (WriteEvents(ctx, memory(), subs, output, eventsPtr, clocksDue: null) > 0)
                return WasiErrno.Success;
            waitNanos = subs.Where(s => s.Tag == EventTypeClock).Select(s => RemainingNanos(s)).DefaultIfEmpty(-1).Min();
        }
        catch (Exception e) when (IsErrno(e))
        {
            return ToErrno(e);
        }
        if (waitNanos < 0) return WasiErrno.Inval; // unreachable: fd subscriptions are always ready
        if (waitNanos > 0)
            await Task.Delay(TimeSpan.FromTicks((waitNanos + 99) / 100), ctx.Cancellation).ConfigureAwait(false);
        try
        {
            var due = subs.Select(s => s.Tag == EventTypeClock && RemainingNanos(s) <= 0).ToArray();
            if (!due.Contains(true)) due[Array.FindIndex(subs, s => s.Tag == EventTypeClock)] = true; // timer rounding
            WriteEvents(ctx, memory(), subs, output, eventsPtr, due);
            return WasiErrno.Success;
        }
        catch (Exception e) when (IsErrno(e))
        {
            return ToErrno(e);
        }
    }

    private static Subscription[] ReadSubscriptions(Span<byte> span, uint input, uint output, uint count, uint eventsPtr)
    {
        var memory = new GuestMemory(span);
        if (count > 4096) throw new WasiErrnoException(WasiErrno.Inval);
        memory.Slice(input, checked(count * SubscriptionSize));
        memory.Slice(output, checked(count * EventSize));
        memory.Slice(eventsPtr, 4);
        var subs = new Subscription[count];
        for (uint i = 0; i < count; i++)
        {
            var p = input + i * SubscriptionSize;
            var tag = memory.ReadU8(p + 8);
            subs[i] = tag switch
            {
                EventTypeClock => new Subscription(memory.ReadU64(p), tag, memory.ReadU32(p + 16), ClockDeadline(memory, p), memory.ReadU16(p + 40)),
                EventTypeFdRead or EventTypeFdWrite => new Subscription(memory.ReadU64(p), tag, memory.ReadU32(p + 16), 0, 0),
                _ => throw new WasiErrnoException(WasiErrno.Inval),
            };
        }
        return subs;
    }

    /// <summary>Turns a clock subscription into an absolute deadline on its own clock.</summary>
    private static ulong ClockDeadline(GuestMemory memory, uint p)
    {
        var clock = memory.ReadU32(p + 16);
        var timeout = memory.ReadU64(p + 24);
        var flags = memory.ReadU16(p + 40);
        if ((flags & SubClockAbstime) != 0) { _ = Now(clock); return timeout; }
        var now = Now(clock);
        return timeout > ulong.MaxValue - now ? ulong.MaxValue : now + timeout;
    }

    private static long RemainingNanos(Subscription s)
    {
        var now = Now(s.ClockOrFd);
        if (s.Timeout <= now) return 0;
        return (long)Math.Min(s.Timeout - now, (ulong)TimeSpan.FromDays(1).Ticks * 100);
    }

    /// <summary>
    /// Writes the events that are ready: fd subscriptions are always reported ready (a following read waits
    /// asynchronously anyway), clocks when <paramref name="clocksDue"/> says so. Returns the count.
    /// </summary>
    private static int WriteEvents(WasiPreview1Context ctx, Span<byte> span, Subscription[] subs, uint output, uint eventsPtr, bool[]? clocksDue)
    {
        var memory = new GuestMemory(span);
        uint n = 0;
        for (var i = 0; i < subs.Length; i++)
        {
            var s = subs[i];
            WasiErrno error;
            ulong bytes = 0;
            if (s.Tag == EventTypeClock)
            {
                if (clocksDue is null || !clocksDue[i]) continue;
                error = WasiErrno.Success;
            }
            else
            {
                error = FdReadiness(ctx, s, out bytes);
            }
            var e = output + n * EventSize;
            memory.Slice(e, EventSize).Clear();
            memory.WriteU64(e, s.UserData);
            memory.WriteU16(e + 8, (ushort)error);
            memory.WriteU8(e + 10, s.Tag);
            memory.WriteU64(e + 16, bytes);
            n++;
        }
        memory.WriteU32(eventsPtr, n);
        return (int)n;
    }

    private static WasiErrno FdReadiness(WasiPreview1Context ctx, Subscription s, out ulong bytes)
    {
        bytes = 0;
        try
        {
            var entry = ctx.Fds.Get(s.ClockOrFd);
            return (entry, s.Tag) switch
            {
                (StdioFd { Number: 0 }, EventTypeFdRead) => Ready(1, out bytes),
                (StdioFd { Number: 1 or 2 }, EventTypeFdWrite) => Ready(65536, out bytes),
                (FileFd f, EventTypeFdRead) => Ready((ulong)Math.Max(0, RandomAccess.GetLength(f.Handle) - f.Position), out bytes),
                _ => WasiErrno.BadF,
            };
        }
        catch (WasiErrnoException e)
        {
            return e.Errno;
        }

        static WasiErrno Ready(ulong n, out ulong bytes)
        {
            bytes = n;
            return WasiErrno.Success;
        }
    }
}
