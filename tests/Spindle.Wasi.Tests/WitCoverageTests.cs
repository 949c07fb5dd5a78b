using Spindle.Testing;
using System.Text.RegularExpressions;

namespace Spindle.Wasi.Tests;

/// <summary>
/// Every function of the WASI 0.2 WIT (as bundled with jco) is declared by <see cref="WasiHost"/> under its exact
/// component-model name. The component runtime checks the types at load; this catches a missing or misspelt name
/// without needing a guest.
/// </summary>
public partial class WitCoverageTests
{
    // jco's bundled WASI WIT, installed by scripts/build-fixtures.sh.
    private static string WitRoot => Path.Combine(Paths.RepoRoot, "artifacts", "tools", "node_modules", "@bytecodealliance", "jco", "lib", "wit", "builtin");

    // Unstable WIT no hosted guest imports, and interfaces guests export rather than import.
    private static readonly HashSet<string> NotProvided = ["wasi:clocks/timezone", "wasi:http/incoming-handler", "wasi:cli/run"];

    public static TheoryData<string> Packages => new("0.2.12/wasi-io", "0.2.12/wasi-clocks", "0.2.12/wasi-random", "0.2.12/wasi-cli",
        "0.2.12/wasi-filesystem", "0.2.12/wasi-sockets", "0.2.12/wasi-http", "0.2.10/wasi-io", "0.2.10/wasi-clocks", "0.2.10/wasi-sockets");

    [Theory]
    [MemberData(nameof(Packages))]
    public void Every_wit_function_is_declared(string package)
    {
        var file = Path.Combine(WitRoot, package, "package.wit");
        Assert.True(File.Exists(file), $"WIT not found at {file}: run 'bash scripts/build-fixtures.sh'");
        var missing = new List<string>();
        var parsed = ParseWit(File.ReadAllText(file));
        Assert.True(parsed.Sum(p => p.Functions.Count) >= 3, $"parsed too little of {file}");
        foreach (var (iface, functions) in parsed)
        {
            if (NotProvided.Contains(iface))
                continue;
            var declared = WasiHost.Shared.Interfaces.FirstOrDefault(i => i.Name == iface);
            if (declared is null)
            {
                missing.Add($"interface {iface}");
                continue;
            }
            missing.AddRange(functions.Where(f => !declared.Functions.ContainsKey(f)).Select(f => $"{iface}#{f}"));
        }
        Assert.Empty(missing);
    }

    [Fact]
    public void Registry_resolves_every_patch_version()
    {
        var registry = WasiHost.CreateRegistry();
        Assert.NotNull(registry.Resolve("wasi:io/streams@0.2.0"));
        Assert.NotNull(registry.Resolve("wasi:http/types@0.2.3"));
        Assert.NotNull(registry.Resolve("wasi:filesystem/preopens@0.2.6"));
        Assert.NotNull(registry.Resolve("wasi:io/poll@0.2.12"));
        Assert.Null(registry.Resolve("wasi:http/types@0.3.0"));
    }

    private static List<(string Interface, List<string> Functions)> ParseWit(string text)
    {
        var package = PackageRegex().Match(text).Groups[1].Value;
        var result = new List<(string, List<string>)>();
        List<string>? current = null;
        string? resource = null;
        var depth = 0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("//", StringComparison.Ordinal) || line.StartsWith('@'))
                continue;
            if (depth == 0 && InterfaceRegex().Match(line) is { Success: true } im)
            {
                current = [];
                result.Add(($"{package}/{im.Groups[1].Value}", current));
            }
            else if (depth == 0 && line.StartsWith("world ", StringComparison.Ordinal))
                current = null;
            else if (current is not null && depth == 1 && ResourceRegex().Match(line) is { Success: true } rm && line.EndsWith('{'))
                resource = rm.Groups[1].Value;
            else if (current is not null && depth == 1 && FuncRegex().Match(line) is { Success: true } fm)
                current.Add(fm.Groups[1].Value.TrimStart('%'));
            else if (current is not null && depth == 2 && resource is not null)
            {
                if (line.StartsWith("constructor(", StringComparison.Ordinal))
                    current.Add($"[constructor]{resource}");
                else if (FuncRegex().Match(line) is { Success: true } mm)
                    current.Add((mm.Groups[2].Success ? "[static]" : "[method]") + $"{resource}.{mm.Groups[1].Value.TrimStart('%')}");
            }
            depth += line.Count(c => c == '{') - line.Count(c => c == '}');
            if (depth <= 1)
                resource = null;
        }
        return result;
    }

    [GeneratedRegex(@"^package\s+([\w:-]+)@")]
    private static partial Regex PackageRegex();

    [GeneratedRegex(@"^interface\s+([\w-]+)\s*\{")]
    private static partial Regex InterfaceRegex();

    [GeneratedRegex(@"^resource\s+([\w-]+)")]
    private static partial Regex ResourceRegex();

    [GeneratedRegex(@"^(%?[\w-]+)\s*:\s*(static\s+)?func\b")]
    private static partial Regex FuncRegex();
}
