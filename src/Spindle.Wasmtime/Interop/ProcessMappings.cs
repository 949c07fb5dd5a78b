namespace Spindle.Wasmtime.Interop;

/// <summary>One line of <c>/proc/self/maps</c>: an address range and whether it is the main thread's stack.</summary>
internal readonly record struct ProcessMapping(nuint Start, nuint End, bool IsMainStack) : IComparable<ProcessMapping>
{
    public int CompareTo(ProcessMapping other) => Start.CompareTo(other.Start);
}

/// <summary>Reads the process's address-space layout (Linux; empty elsewhere or when unreadable).</summary>
internal static class ProcessMappings
{
    public static List<ProcessMapping> Read()
    {
        var list = new List<ProcessMapping>();
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var dash = line.IndexOf('-');
                var space = line.IndexOf(' ');
                if (dash <= 0 || space <= dash) continue;
                list.Add(new ProcessMapping(
                    nuint.Parse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber),
                    nuint.Parse(line.AsSpan(dash + 1, space - dash - 1), System.Globalization.NumberStyles.HexNumber),
                    line.EndsWith("[stack]", StringComparison.Ordinal)));
            }
        }
        catch (IOException)
        {
        }
        return list;
    }
}
