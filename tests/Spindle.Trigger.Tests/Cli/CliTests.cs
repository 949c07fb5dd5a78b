using System.Diagnostics;
using Spindle.Engine;
using Spindle.Cli;
using Spindle.Hosting;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Cli;

public sealed class CliTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private const string StaticManifest = """
        spin_manifest_version = 2
        [application]
        name = "cli"
        [[trigger.http]]
        route = "/hi"
        static_response = { body = "hi" }
        """;

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await SpindleCommandLine.RunAsync(args, new ExecutorFactoryRegistry(), output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Startup_errors_print_one_line_and_exit_non_zero()
    {
        using var app = new TempApp("spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.c]\nsource = \"gone.wasm\"\n");
        var (code, _, err) = await Run("up", "-f", app.Dir, "--listen", "127.0.0.1:0");
        Assert.Equal(1, code);
        Assert.StartsWith("Error: " + app.ManifestPath, err);
        Assert.Contains("component.c.source", err);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("--env", "NOEQUALS", "--env 'NOEQUALS': expected KEY=VALUE")]
    [InlineData("--variable", "x", "--variable 'x': expected KEY=VALUE")]
    [InlineData("--request-timeout", "soon", "--request-timeout: invalid duration 'soon'")]
    [InlineData("--listen", "nowhere", "invalid listen address 'nowhere'")]
    public async Task Bad_flag_values_are_reported(string flag, string value, string message)
    {
        using var app = new TempApp(StaticManifest);
        string[] listen = flag == "--listen" ? [] : ["--listen", "127.0.0.1:0"];
        var (code, _, err) = await Run(["up", "-f", app.ManifestPath, .. listen, flag, value]);
        Assert.Equal(1, code);
        Assert.Contains(message, err);
    }

    [Theory]
    [InlineData(new string[0], "on")]
    [InlineData(new[] { "--instance-reuse", "on" }, "on")]
    [InlineData(new[] { "--instance-reuse", "off" }, "off")]
    public void Instance_reuse_is_on_unless_turned_off(string[] flag, string value)
    {
        var parse = SpindleCommandLine.Build(new ExecutorFactoryRegistry(), TextWriter.Null, TextWriter.Null).Parse(["up", .. flag]);
        Assert.Empty(parse.Errors);
        Assert.Equal(value, parse.GetValue<string>("--instance-reuse"));
    }

    [Fact]
    public void Spins_up_flags_parse_with_spins_names()
    {
        var root = SpindleCommandLine.Build(new ExecutorFactoryRegistry(), TextWriter.Null, TextWriter.Null);
        var parse = root.Parse(["up", "--find-free-port", "--format", "json", "--http1-max-buf-size", "16384", "-c", "a", "--component-id", "b"]);
        Assert.Empty(parse.Errors);
        Assert.True(parse.GetValue<bool>("--find-free-port"));
        Assert.Equal("json", parse.GetValue<string>("--format"));
        Assert.Equal(16384, parse.GetValue<int?>("--http1-max-buf-size"));
        Assert.Equal(["a", "b"], parse.GetValue<string[]>("--component-id")!);
        Assert.Equal("plain", root.Parse(["up"]).GetValue<string>("--format"));
        var engine = root.Parse(["up", "--disable-pooling", "--cache-dir", "/tmp/c", "--disable-cache", "--max-instance-memory", "1048576"]);
        Assert.Empty(engine.Errors);
        Assert.True(engine.GetValue<bool>("--disable-pooling"));
        Assert.Equal("/tmp/c", engine.GetValue<string?>("--cache-dir"));
        Assert.True(engine.GetValue<bool>("--disable-cache"));
        Assert.Equal(1048576L, engine.GetValue<long?>("--max-instance-memory"));
        Assert.NotEmpty(root.Parse(["up", "--format", "xml"]).Errors);
    }

    [Fact]
    public async Task The_engine_flags_make_the_runtime_the_host_uses()
    {
        using var app = new TempApp(StaticManifest);
        SpindleEngineOptions? seen = null;
        var (code, _, err) = await RunWith(settings => { seen = settings; throw new SpindleStartupException("stop here"); }, NoEnvironment,
            "up", "-f", app.ManifestPath, "--disable-pooling", "--disable-cache", "--cache-dir", "/tmp/x", "--max-instance-memory", "65536");
        Assert.Equal(1, code);
        Assert.Contains("stop here", err);
        Assert.NotNull(seen);
        Assert.False(seen.Pooling);
        Assert.False(seen.UseArtifactCache);
        Assert.Equal("/tmp/x", seen.CacheDirectory);
        Assert.Equal(65536, seen.MaxInstanceMemory);

        var (bad, _, message) = await RunWith(_ => throw new InvalidOperationException("not reached"), NoEnvironment, "up", "-f", app.ManifestPath, "--max-instance-memory", "0");
        Assert.Equal(1, bad);
        Assert.Contains("--max-instance-memory: 0 is not a number of bytes (1 or more)", message);

        using var unpooled = SpindleEngine.Create(new SpindleEngineOptions { Pooling = false, UseArtifactCache = false, MaxInstanceMemory = 1 << 20 });
        Assert.False(unpooled.Engine.Options.Pooling);
        Assert.Null(unpooled.HotLane);
        Assert.False(unpooled.Engine.Options.UseArtifactCache);
        Assert.Equal(1 << 20, unpooled.Engine.Options.StoreMemoryLimit);
        Assert.Empty(unpooled.Lanes);
    }

    [Fact]
    public async Task The_tuning_variables_map_onto_the_engine_options()
    {
        using var app = new TempApp(StaticManifest);
        var env = new Dictionary<string, string>
        {
            ["SPINDLE_POOLING"] = "1",
            ["SPINDLE_POOL_INSTANCES"] = "512",
            ["SPINDLE_MEMORY_KEEP_RESIDENT"] = "65536",
            ["SPINDLE_TABLE_KEEP_RESIDENT"] = "4096",
            ["SPINDLE_MEMORY_WARMUP"] = "0",
            ["SPINDLE_HOT_INSTANCES"] = "64",
            ["SPINDLE_HOT_KEEP_RESIDENT"] = "8192",
            ["SPINDLE_HOT_MEMORY_WARMUP"] = "1",
            ["SPINDLE_RESIDENT_INSTANCES"] = "0",
            ["XDG_CACHE_HOME"] = "/tmp/xdg",
            ["SPIN_MAX_INSTANCE_MEMORY"] = "1048576",
        };
        SpindleEngineOptions? seen = null;
        var (code, _, err) = await RunWith(settings => { seen = settings; throw new SpindleStartupException("stop here"); }, n => env.GetValueOrDefault(n),
            "up", "-f", app.ManifestPath);
        Assert.Equal(1, code);
        Assert.Contains("stop here", err);
        Assert.NotNull(seen);
        Assert.True(seen.Pooling);
        Assert.Equal(512u, seen.PoolInstances);
        Assert.Equal(65536ul, seen.MemoryKeepResident);
        Assert.Equal(4096ul, seen.TableKeepResident);
        Assert.False(seen.MemoryWarmup);
        Assert.Equal(64u, seen.HotInstances);
        Assert.Equal(8192ul, seen.HotKeepResident);
        Assert.True(seen.HotMemoryWarmup);
        Assert.Equal(0u, seen.ResidentInstances);
        Assert.Equal(Path.Combine("/tmp/xdg", "spindle"), seen.CacheDirectory);
        Assert.Equal(1048576, seen.MaxInstanceMemory);

        // SPINDLE_CACHE_DIR wins over XDG_CACHE_HOME, and a flag over both.
        env["SPINDLE_CACHE_DIR"] = "/tmp/spindle-cache";
        await RunWith(settings => { seen = settings; throw new SpindleStartupException("stop"); }, n => env.GetValueOrDefault(n), "up", "-f", app.ManifestPath);
        Assert.Equal("/tmp/spindle-cache", seen.CacheDirectory);
        await RunWith(settings => { seen = settings; throw new SpindleStartupException("stop"); }, n => env.GetValueOrDefault(n),
            "up", "-f", app.ManifestPath, "--cache-dir", "/tmp/flag", "--disable-pooling");
        Assert.Equal("/tmp/flag", seen.CacheDirectory);
        Assert.False(seen.Pooling);

        // The engine made from them: the main pool and the lanes as the variables say.
        using var engine = SpindleEngine.Create(new SpindleEngineOptions { PoolInstances = 32, HotInstances = 8, ResidentInstances = 0, UseArtifactCache = false });
        Assert.Equal(32u, engine.Engine.Options.TotalCoreInstances);
        Assert.Equal(8, engine.HotLane!.Capacity);
        Assert.Null(engine.ResidentLane);
    }

    [Theory]
    [InlineData("SPINDLE_POOL_INSTANCES", "0", "SPINDLE_POOL_INSTANCES=0: must be 1..1000000")]
    [InlineData("SPINDLE_POOL_INSTANCES", "lots", "SPINDLE_POOL_INSTANCES=lots: expected a whole number (0 or more)")]
    [InlineData("SPINDLE_HOT_INSTANCES", "2000000", "SPINDLE_HOT_INSTANCES=2000000: must be 0..1000000 (0: no hot lane)")]
    [InlineData("SPINDLE_POOLING", "maybe", "SPINDLE_POOLING=maybe: expected 0 or 1")]
    [InlineData("SPINDLE_MEMORY_KEEP_RESIDENT", "-5", "SPINDLE_MEMORY_KEEP_RESIDENT=-5: expected a whole number (0 or more)")]
    public async Task A_bad_tuning_variable_stops_the_start_naming_it(string variable, string value, string message)
    {
        using var app = new TempApp(StaticManifest);
        var (code, _, err) = await RunWith(_ => throw new InvalidOperationException("not reached"), n => n == variable ? value : null,
            "up", "-f", app.ManifestPath);
        Assert.Equal(1, code);
        Assert.Equal("Error: " + message, err.Trim());
    }

    private static string? NoEnvironment(string name) => null;

    private static async Task<(int Code, string Out, string Err)> RunWith(Func<SpindleEngineOptions, SpindleEngine> runtime, Func<string, string?> env, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await SpindleCommandLine.RunAsync(args, runtime, output, error, env);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Instance_reuse_takes_only_on_or_off()
    {
        using var app = new TempApp(StaticManifest);
        var (code, _, err) = await Run("up", "-f", app.ManifestPath, "--listen", "127.0.0.1:0", "--instance-reuse", "maybe");
        Assert.NotEqual(0, code);
        Assert.Contains("maybe", err);
    }

    [Theory]
    [InlineData("30", 30_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("250ms", 250)]
    [InlineData("2000us", 2)]
    [InlineData("3000000ns", 3)]
    public void Durations_parse_like_Spin(string text, int ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), DurationParser.TryParse(text, out _));

    /// <summary>The real executable: listens (address from SPIN_HTTP_LISTEN_ADDR), serves, and exits 0 on SIGTERM.</summary>
    [Fact]
    public async Task Spindle_up_serves_and_exits_zero_on_SIGTERM()
    {
        using var app = new TempApp(StaticManifest);
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "spindle.dll"), "up", "-f", app.ManifestPath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["SPIN_HTTP_LISTEN_ADDR"] = "127.0.0.1:0";
        using var process = Process.Start(psi)!;
        try
        {
            string? serving = null;
            while (serving is null)
            {
                var line = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(60), Ct)
                    ?? throw new Xunit.Sdk.XunitException("spindle exited: " + await process.StandardError.ReadToEndAsync(Ct));
                if (line.StartsWith("Serving ", StringComparison.Ordinal)) serving = line["Serving ".Length..];
            }
            Assert.Matches(@"^http://127\.0\.0\.1:\d+$", serving);
            using var client = new HttpClient { BaseAddress = new Uri(serving) };
            Assert.Equal("hi", await client.GetStringAsync("/hi", Ct));
            Assert.Contains("/hi", await process.StandardOutput.ReadLineAsync(Ct) + await process.StandardOutput.ReadLineAsync(Ct));

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) await kill.WaitForExitAsync(Ct);
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
