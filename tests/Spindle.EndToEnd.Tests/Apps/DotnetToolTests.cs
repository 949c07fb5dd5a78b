using System.Diagnostics;
using System.IO.Compression;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Testing;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>
/// The CLI packed as a .NET tool (<c>dotnet pack src/Spindle.Cli</c>), installed with <c>dotnet tool install</c> into
/// a temporary tool path from the local package only, runs the README's example application.
/// </summary>
public sealed class DotnetToolTests : IDisposable
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "spindle-tool-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromMinutes(5), Ct);
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }

    [Fact]
    public async Task The_packed_tool_installs_and_serves_the_example_application()
    {
        Assert.True(File.Exists(Path.Combine(Paths.RepoRoot, "examples", "hello", "target", "hello.wasm")), "the example is not built: bash scripts/build-fixtures.sh");
        var packages = Path.Combine(_dir, "packages");
        // The solution is built (the CI script and the README's test command build it first): pack what was built.
        await RunAsync("dotnet", "pack", Path.Combine(Paths.RepoRoot, "src", "Spindle.Cli", "Spindle.Cli.csproj"), "-c", "Release", "--no-build", "-o", packages);
        var package = Assert.Single(Directory.GetFiles(packages, "spindle.*.nupkg"));
        using (var zip = ZipFile.OpenRead(package))
        {
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains(entries, e => e.EndsWith("runtimes/linux-x64/native/libwasmtime.so", StringComparison.Ordinal));
            Assert.Contains(entries, e => e.EndsWith("runtimes/linux-arm64/native/libwasmtime.so", StringComparison.Ordinal));
        }

        // Only the local package as a source: nothing is fetched from elsewhere.
        var config = Path.Combine(_dir, "nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><clear /><add key="local" value="{packages}" /></packageSources>
            </configuration>
            """, Ct);
        var version = Path.GetFileNameWithoutExtension(package)["spindle.".Length..];
        var tools = Path.Combine(_dir, "tools");
        await RunAsync("dotnet", "tool", "install", "spindle", "--tool-path", tools, "--configfile", config, "--version", version);

        var psi = new ProcessStartInfo(Path.Combine(tools, "spindle"), ["up", "-f", Path.Combine(Paths.RepoRoot, "examples", "hello"), "--listen", "127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        try
        {
            string? serving = null;
            while (serving is null)
            {
                var line = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(120), Ct)
                    ?? throw new Xunit.Sdk.XunitException("spindle exited: " + await stderr);
                if (line.StartsWith("Serving ", StringComparison.Ordinal)) serving = line["Serving ".Length..];
            }
            var drain = process.StandardOutput.ReadToEndAsync(Ct);
            using var client = TestApp.Client(new Uri(serving));
            Assert.StartsWith("Hello from JavaScript!", await client.GetStringAsync("/hello", Ct));
            Assert.StartsWith("Hello from C, tool!", await client.GetStringAsync("/wagi/tool", Ct));
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])!) await kill.WaitForExitAsync(Ct);
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.Equal(0, process.ExitCode);
            await drain;
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
