using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Testing;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>The real <c>spindle up</c> executable serving tests/fixtures/apps/cli (components, a Wagi module, first-generation Spin modules) with <c>-e</c> and <c>--variable</c> flags.</summary>
public sealed class CliProcessTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Spindle_up_serves_real_components_with_flag_overrides_and_stops_on_SIGTERM()
    {
        foreach (var fixture in new[] { "js/echo.wasm", "wagi/env.wasm", "js-spin/variables.wasm", "legacy/spin-v1.wasm", "legacy/spin-v2.wasm",
            "legacy/spin-v1-command.wasm", "legacy/spin-v1-hello.wasm", "legacy/spin-v2-hello.wasm" })
            Paths.Fixture(fixture); // fails with the build command when missing
        var manifest = Path.Combine(Paths.FixtureSources, "apps", "cli", "spin.toml");
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "spindle.dll"), "up", "-f", manifest,
            "--listen", "127.0.0.1:0", "-e", "FROM_CLI=yes", "--variable", "api_token=from-the-flag"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        Task<string>? stdout = null;
        try
        {
            string? serving = null;
            while (serving is null)
            {
                var line = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(120), Ct)
                    ?? throw new Xunit.Sdk.XunitException("spindle exited: " + await stderr);
                if (line.StartsWith("Serving ", StringComparison.Ordinal)) serving = line["Serving ".Length..];
            }
            stdout = process.StandardOutput.ReadToEndAsync(Ct); // keep the pipe drained
            using var client = TestApp.Client(new Uri(serving));

            var echo = EchoReply.Parse(await client.GetStringAsync("/echo/x/y", Ct));
            Assert.Equal("/x/y", echo.Header("spin-path-info"));

            var env = await client.GetStringAsync("/env", Ct);
            Assert.Contains("ENV FROM_MANIFEST=manifest\n", env);
            Assert.Contains("ENV FROM_CLI=yes\n", env);

            using var vars = JsonDocument.Parse(await client.GetStringAsync("/vars?names=token", Ct));
            Assert.Equal("from-the-flag", vars.RootElement.GetProperty("token").GetProperty("ok").GetString());

            // First-generation Spin modules, reading the same variable through get-config.
            Assert.Equal("Hello from a Spin 1.x module\n", await client.GetStringAsync("/legacy1/hello", Ct));
            Assert.Equal("from-the-flag", await client.GetStringAsync("/legacy1/config", Ct));
            Assert.Equal("Hello from a Spin 1.4 module\n", await client.GetStringAsync("/legacy2/hello", Ct));
            Assert.Equal("from-the-flag", await client.GetStringAsync("/legacy2/config", Ct));
            Assert.Equal("Hello from a Spin 1.x module\n", await client.GetStringAsync("/legacy1-command/hello", Ct));
            Assert.Equal("Hello from WAT 1.x\n", await client.GetStringAsync("/legacy-wat1/x", Ct));
            Assert.Equal("Hello from WAT\n", await client.GetStringAsync("/legacy-wat2/x", Ct));

            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nothing-here", Ct)).StatusCode);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])!) await kill.WaitForExitAsync(Ct);
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        Assert.DoesNotContain("from-the-flag", await stderr);
        Assert.DoesNotContain("from-the-flag", stdout is null ? "" : await stdout);
    }
}
