using System.Diagnostics;

namespace Spindle.Wasi.Preview2.Io;

/// <summary>The monotonic clock behind <c>wasi:clocks/monotonic-clock</c>, in nanoseconds.</summary>
public static class MonotonicClock
{
    /// <summary>Nanoseconds since an arbitrary fixed point (process-wide).</summary>
    public static ulong NowNanoseconds()
    {
        var ticks = Stopwatch.GetTimestamp();
        var freq = Stopwatch.Frequency;
        return (ulong)(ticks / freq) * 1_000_000_000UL + (ulong)(ticks % freq * 1_000_000_000L / freq);
    }

    /// <summary>A pollable ready once the clock reaches <paramref name="deadline"/> (nanoseconds).</summary>
    public static Pollable SubscribeInstant(ulong deadline) => new DeadlinePollable(deadline);

    /// <summary>A pollable ready <paramref name="duration"/> nanoseconds from now.</summary>
    public static Pollable SubscribeDuration(ulong duration)
    {
        var now = NowNanoseconds();
        var deadline = ulong.MaxValue - now < duration ? ulong.MaxValue : now + duration;
        return new DeadlinePollable(deadline);
    }

    private sealed class DeadlinePollable(ulong deadline) : Pollable
    {
        public override bool IsReady => NowNanoseconds() >= deadline;

        public override async ValueTask WaitAsync(CancellationToken cancellation)
        {
            while (true)
            {
                var now = NowNanoseconds();
                if (now >= deadline)
                    return;
                var remaining = deadline - now;
                // Task.Delay takes at most ~49 days; longer deadlines wait in steps. Round up so we never wake early.
                var ms = Math.Min((remaining + 999_999UL) / 1_000_000UL, (ulong)int.MaxValue - 1);
                await Task.Delay(TimeSpan.FromMilliseconds(ms), cancellation).ConfigureAwait(false);
            }
        }
    }
}
