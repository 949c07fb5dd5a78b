using System.Globalization;

namespace Spindle.Cli;

/// <summary>Parses <c>--request-timeout</c> values as Spin does: a number with <c>s</c> (default), <c>ms</c>, <c>us</c>/<c>μs</c> or <c>ns</c>.</summary>
public static class DurationParser
{
    /// <summary>Parses <paramref name="text"/>; returns <c>null</c> and a reason when it is not a duration.</summary>
    public static TimeSpan? TryParse(string text, out string? error)
    {
        error = null;
        var t = text.Trim();
        var (number, ticksPerUnit) =
            t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], TimeSpan.TicksPerMillisecond) :
            t.EndsWith("us", StringComparison.Ordinal) || t.EndsWith("μs", StringComparison.Ordinal) ? (t[..^2], TimeSpan.TicksPerMicrosecond) :
            t.EndsWith("ns", StringComparison.Ordinal) ? (t[..^2], 0L) :
            t.EndsWith('s') ? (t[..^1], TimeSpan.TicksPerSecond) :
            (t, TimeSpan.TicksPerSecond);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || double.IsInfinity(value))
        {
            error = $"invalid duration '{text}' (examples: 30, 30s, 500ms, 250us, 1000ns)";
            return null;
        }
        return ticksPerUnit == 0 ? TimeSpan.FromTicks((long)(value / 100)) : TimeSpan.FromTicks((long)(value * ticksPerUnit));
    }
}
