namespace Spindle.Wagi.Tests;

/// <summary>Reads what the env fixture (tests/fixtures/wagi/env.c) prints: <c>ENV name=value</c> and <c>ARG i value</c> lines.</summary>
internal static class EnvOutput
{
    /// <summary>The environment (every value of a repeated name, in order) and argv.</summary>
    public static Dictionary<string, List<string>> Parse(string body, out List<string> argv)
    {
        var env = new Dictionary<string, List<string>>();
        argv = [];
        foreach (var line in body.Split('\n'))
        {
            if (line.StartsWith("ENV ", StringComparison.Ordinal))
            {
                var kv = line[4..];
                var eq = kv.IndexOf('=');
                var name = kv[..eq];
                if (!env.TryGetValue(name, out var values)) env[name] = values = [];
                values.Add(kv[(eq + 1)..]);
            }
            else if (line.StartsWith("ARG ", StringComparison.Ordinal))
                argv.Add(line[(line.IndexOf(' ', 4) + 1)..]);
        }
        return env;
    }
}
