using System.CommandLine;
using System.Runtime.InteropServices;
using Spindle.Engine;
using Spindle.Hosting;
using Spindle.Trigger.Http.Executors;

namespace Spindle.Cli;

/// <summary>
/// The <c>spindle</c> command line: <c>up</c> (run a Spin application) and <c>serve</c> (one component on every path).
/// Thin: flags become <see cref="SpindleHostOptions"/>; <see cref="SpindleHost"/> does the work.
/// </summary>
public static class SpindleCommandLine
{
    /// <summary>
    /// Parses <paramref name="args"/> and runs the command until Ctrl-C/SIGTERM (then drains and returns 0). The engine
    /// is created by <paramref name="runtime"/> from the <see cref="SpindleEngineOptions"/> that the engine flags
    /// (<c>--disable-pooling</c>, <c>--cache-dir</c>, <c>--disable-cache</c>, <c>--max-instance-memory</c>) and the
    /// <c>SPINDLE_*</c> tuning variables (<see cref="EngineVariables"/>) make, and disposed when the host has stopped.
    /// <paramref name="environment"/> reads environment variables (default: the process environment).
    /// </summary>
    public static Task<int> RunAsync(string[] args, Func<SpindleEngineOptions, SpindleEngine> runtime, TextWriter? output = null, TextWriter? error = null,
        Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        return RunAsync(args, settings =>
        {
            var engine = runtime(settings);
            return (engine.CreateRegistry(), engine);
        }, output, error, environment);
    }

    /// <summary>As the other overload, with a fixed set of executors (tests; the engine flags are parsed and checked but not used).</summary>
    public static Task<int> RunAsync(string[] args, ExecutorFactoryRegistry executors, TextWriter? output = null, TextWriter? error = null) =>
        RunAsync(args, _ => (executors, null), output, error, null);

    private static async Task<int> RunAsync(string[] args, Func<SpindleEngineOptions, (ExecutorFactoryRegistry, IDisposable?)> runtime, TextWriter? output, TextWriter? error,
        Func<string, string?>? environment)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        var root = Build(runtime, output, error, environment ?? Environment.GetEnvironmentVariable);
        // We handle signals ourselves so that draining in-flight requests is not cut short.
        return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, Output = output, Error = error });
    }

    /// <summary>Builds the command tree with fixed executors (exposed for tests of flag parsing).</summary>
    public static RootCommand Build(ExecutorFactoryRegistry executors, TextWriter output, TextWriter error) =>
        Build(_ => (executors, null), output, error, Environment.GetEnvironmentVariable);

    private static RootCommand Build(Func<SpindleEngineOptions, (ExecutorFactoryRegistry Registry, IDisposable? Owner)> runtime, TextWriter output, TextWriter error,
        Func<string, string?> environment)
    {
        string? NonEmptyEnv(string name) => environment(name) is { Length: > 0 } v ? v : null;
        var from = new Option<string>("--from", "-f", "--file")
        {
            Description = "The application to run: a spin.toml file or a folder holding one",
            DefaultValueFactory = _ => "spin.toml",
        };
        var listen = ListenOption();
        var tlsCert = new Option<string?>("--tls-cert") { Description = "PEM certificate (chain) for HTTPS [env: SPIN_TLS_CERT]" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key (PKCS#8, PKCS#1 or SEC1) for HTTPS [env: SPIN_TLS_KEY]" };
        var env = new Option<string[]>("--env", "-e") { Description = "KEY=VALUE added to every component's environment (repeatable)" };
        var variable = new Option<string[]>("--variable") { Description = "Application variable KEY=VALUE or KEY=@file (repeatable; last wins)" };
        var timeout = new Option<string?>("--request-timeout") { Description = "Per-request deadline, e.g. 30s, 500ms" };
        var maxBody = new Option<long?>("--max-request-body-size")
        {
            Description = "Largest request body accepted, in bytes (larger: 413); default: no limit, as Spin",
            HelpName = "BYTES",
        };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only warnings and errors; silence component output" };
        var instanceReuse = new Option<string>("--instance-reuse")
        {
            Description = "on: reset a wasi:http instance after a request and reuse it; off: a fresh instance per request, as Spin",
            DefaultValueFactory = _ => "on",
        };
        instanceReuse.AcceptOnlyFromAmong("on", "off");
        var runtimeConfig = new Option<string?>("--runtime-config-file")
        {
            Description = "Spin runtime configuration TOML (key-value stores, SQLite databases, state_dir, outbound HTTP, blocked networks, client TLS) [env: RUNTIME_CONFIG_FILE]",
        };
        var stateDir = new Option<string?>("--state-dir") { Description = "Directory of the default key-value store and SQLite database (default: .spin beside the manifest)" };
        var keyValue = new Option<string[]>("--key-value") { Description = "KEY=VALUE set in the default key-value store before serving (repeatable)" };
        var sqlite = new Option<string[]>("--sqlite") { Description = "SQL run against the default SQLite database before serving, or @file[:label] to run a file's statements (repeatable)" };
        var findFreePort = new Option<bool>("--find-free-port") { Description = "If the listen port is taken, use the first free one of the next 9" };
        var format = new Option<string>("--format")
        {
            Description = "How the routes are listed at startup: plain or json",
            DefaultValueFactory = _ => "plain",
        };
        format.AcceptOnlyFromAmong("plain", "json");
        var http1MaxBuf = new Option<int?>("--http1-max-buf-size")
        {
            Description = $"Most bytes of an HTTP/1.1 request line and headers (at least {SpindleHost.MinHttp1BufferSize}) [env: SPIN_HTTP1_MAX_BUF_SIZE]",
            HelpName = "BYTES",
        };
        var componentIds = new Option<string[]>("--component-id", "-c") { Description = "Run only this component (repeatable); the others' routes are not served" };
        var logDir = new Option<string?>("--log-dir", "-L") { Description = "Append each component's stdout and stderr to <component>_stdout.txt / _stderr.txt in this folder [env: SPIN_LOG_DIR]" };
        var follow = new Option<string[]>("--follow") { Description = "Show only this component's output on the console (repeatable; default: all)" };
        var disablePooling = new Option<bool>("--disable-pooling") { Description = "Allocate instances on demand instead of from pre-reserved pools (no warm instances)" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Where compiled components are kept [env: SPINDLE_CACHE_DIR; default: ~/.cache/spindle]" };
        var disableCache = new Option<bool>("--disable-cache") { Description = "Compile every component at every start; keep no compiled artifacts" };
        var maxInstanceMemory = new Option<long?>("--max-instance-memory")
        {
            Description = "Most bytes a guest's memory may grow to; a memory.grow past it fails [env: SPIN_MAX_INSTANCE_MEMORY]",
            HelpName = "BYTES",
        };

        var up = new Command("up", "Run a Spin application")
        {
            from, listen, tlsCert, tlsKey, env, variable, timeout, maxBody, quiet, runtimeConfig, instanceReuse, stateDir, keyValue, sqlite,
            findFreePort, format, http1MaxBuf, componentIds, disablePooling, cacheDir, disableCache, maxInstanceMemory, logDir, follow,
        };
        up.SetAction((parse, ct) => RunHostAsync(output, error, () =>
        {
            var engine = EngineSettings(environment);
            // The flags win over the variables.
            if (parse.GetValue(disablePooling)) engine.Pooling = false;
            if (parse.GetValue(cacheDir) is { } dir) engine.CacheDirectory = dir;
            if (parse.GetValue(disableCache)) engine.UseArtifactCache = false;
            engine.MaxInstanceMemory = Positive(parse.GetValue(maxInstanceMemory), "--max-instance-memory")
                ?? Positive(EnvLong(environment, "SPIN_MAX_INSTANCE_MEMORY"), "SPIN_MAX_INSTANCE_MEMORY");
            Check(engine);
            return runtime(engine);
        }, executors => new SpindleHostOptions
        {
            ManifestPath = parse.GetValue(from),
            ListenAddress = parse.GetValue(listen)!,
            TlsCertificatePath = parse.GetValue(tlsCert) ?? NonEmptyEnv("SPIN_TLS_CERT"),
            TlsKeyPath = parse.GetValue(tlsKey) ?? NonEmptyEnv("SPIN_TLS_KEY"),
            Environment = Pairs(parse.GetValue(env), "--env"),
            Variables = VariablePairs(parse.GetValue(variable)),
            Server = new SpindleServerOptions
            {
                RequestTimeout = Duration(parse.GetValue(timeout)),
                MaxRequestBodySize = parse.GetValue(maxBody) is < 0 and var body
                    ? throw new SpindleStartupException($"--max-request-body-size: {body} is not a number of bytes (0 or more)")
                    : parse.GetValue(maxBody),
                InstanceReuse = parse.GetValue(instanceReuse) == "on",
                Http1MaxBufferSize = parse.GetValue(http1MaxBuf) is < SpindleHost.MinHttp1BufferSize and var head
                    ? throw new SpindleStartupException($"--http1-max-buf-size: {head} is below the minimum of {SpindleHost.MinHttp1BufferSize} bytes")
                    : parse.GetValue(http1MaxBuf) ?? EnvInt(environment, "SPIN_HTTP1_MAX_BUF_SIZE"),
            },
            EnvironmentVariables = environment,
            Quiet = parse.GetValue(quiet),
            RuntimeConfigPath = parse.GetValue(runtimeConfig) ?? NonEmptyEnv("RUNTIME_CONFIG_FILE"),
            StateDirectory = parse.GetValue(stateDir),
            KeyValueSeeds = Pairs(parse.GetValue(keyValue), "--key-value"),
            SqliteStatements = parse.GetValue(sqlite) ?? [],
            OutboundH2cPriorKnowledge = NonEmptyEnv("SPIN_OUTBOUND_H2C_PRIOR_KNOWLEDGE"),
            FindFreePort = parse.GetValue(findFreePort),
            RouteListing = parse.GetValue(format) == "json" ? RouteListingFormat.Json : RouteListingFormat.Plain,
            ComponentIds = parse.GetValue(componentIds) ?? [],
            LogDirectory = parse.GetValue(logDir) ?? NonEmptyEnv("SPIN_LOG_DIR"),
            FollowComponents = parse.GetValue(follow) ?? [],
            Executors = executors,
            Output = output,
        }, ct));

        var component = new Argument<string>("component") { Description = "The .wasm component to serve on every path" };
        var serveListen = ListenOption();
        var serve = new Command("serve", "Serve one component on every path (route /...)") { component, serveListen };
        serve.SetAction((parse, ct) => RunHostAsync(output, error, () =>
        {
            var engine = EngineSettings(environment);
            Check(engine);
            return runtime(engine);
        }, executors => new SpindleHostOptions
        {
            EnvironmentVariables = environment,
            ComponentPath = parse.GetValue(component),
            ListenAddress = parse.GetValue(serveListen)!,
            Executors = executors,
            Output = output,
        }, ct));

        return new RootCommand("Spindle: run Spin applications on .NET") { up, serve };

        Option<string> ListenOption() => new("--listen")
        {
            Description = "Address to listen on, HOST:PORT [env: SPIN_HTTP_LISTEN_ADDR]",
            DefaultValueFactory = _ => NonEmptyEnv("SPIN_HTTP_LISTEN_ADDR") ?? SpindleHostOptions.DefaultListenAddress,
        };
    }

    private static async Task<int> RunHostAsync(TextWriter output, TextWriter error, Func<(ExecutorFactoryRegistry Registry, IDisposable? Owner)> runtime,
        Func<ExecutorFactoryRegistry, SpindleHostOptions> options, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        SpindleHost host;
        IDisposable? owner = null;
        try
        {
            var (registry, created) = runtime();
            owner = created;
            host = await SpindleHost.StartAsync(options(registry), stop.Token);
        }
        catch (SpindleStartupException e)
        {
            owner?.Dispose();
            await error.WriteLineAsync("Error: " + e.Message);
            return 1;
        }
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await host.DisposeAsync();
        owner?.Dispose();
        await output.FlushAsync();
        return 0;
    }

    private static long? Positive(long? value, string flag) => value is not (null or > 0)
        ? throw new SpindleStartupException($"{flag}: {value} is not a number of bytes (1 or more)")
        : value;

    /// <summary>
    /// The engine tuning variables and the <see cref="SpindleEngineOptions"/> setting each sets (bench/run.sh's
    /// <c>SPINDLE_BENCH_ENV</c> passes them). Switches take <c>0</c>/<c>1</c> (or <c>false</c>/<c>true</c>), sizes a
    /// whole number; anything else stops the start with one line naming the variable and its value.
    /// </summary>
    public static IReadOnlyList<(string Variable, string Setting)> EngineVariables { get; } =
    [
        ("SPINDLE_POOLING", nameof(SpindleEngineOptions.Pooling)),
        ("SPINDLE_POOL_INSTANCES", nameof(SpindleEngineOptions.PoolInstances)),
        ("SPINDLE_MEMORY_KEEP_RESIDENT", nameof(SpindleEngineOptions.MemoryKeepResident)),
        ("SPINDLE_TABLE_KEEP_RESIDENT", nameof(SpindleEngineOptions.TableKeepResident)),
        ("SPINDLE_MEMORY_WARMUP", nameof(SpindleEngineOptions.MemoryWarmup)),
        ("SPINDLE_HOT_INSTANCES", nameof(SpindleEngineOptions.HotInstances)),
        ("SPINDLE_HOT_KEEP_RESIDENT", nameof(SpindleEngineOptions.HotKeepResident)),
        ("SPINDLE_HOT_MEMORY_WARMUP", nameof(SpindleEngineOptions.HotMemoryWarmup)),
        ("SPINDLE_RESIDENT_INSTANCES", nameof(SpindleEngineOptions.ResidentInstances)),
        ("SPINDLE_CACHE_DIR", nameof(SpindleEngineOptions.CacheDirectory)),
    ];

    /// <summary>The engine settings the environment gives (<see cref="EngineVariables"/>; <c>XDG_CACHE_HOME</c> for the default cache directory).</summary>
    internal static SpindleEngineOptions EngineSettings(Func<string, string?> env)
    {
        var o = new SpindleEngineOptions();
        string? Get(string name) => env(name) is { Length: > 0 } v ? v.Trim() : null;
        bool? Switch(string name) => Get(name) switch
        {
            null => null,
            "1" or "true" or "on" => true,
            "0" or "false" or "off" => false,
            var v => throw new SpindleStartupException($"{name}={v}: expected 0 or 1"),
        };
        ulong? Number(string name) => Get(name) is not { } v ? null
            : ulong.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n
            : throw new SpindleStartupException($"{name}={v}: expected a whole number (0 or more)");
        uint? Count(string name) => Number(name) is not { } n ? null
            : n <= uint.MaxValue ? (uint)n : throw new SpindleStartupException($"{name}={n}: must be 0..{uint.MaxValue}");
        if (Switch("SPINDLE_POOLING") is { } pooling) o.Pooling = pooling;
        if (Count("SPINDLE_POOL_INSTANCES") is { } pool) o.PoolInstances = pool;
        if (Number("SPINDLE_MEMORY_KEEP_RESIDENT") is { } memory) o.MemoryKeepResident = memory;
        if (Number("SPINDLE_TABLE_KEEP_RESIDENT") is { } table) o.TableKeepResident = table;
        if (Switch("SPINDLE_MEMORY_WARMUP") is { } warmup) o.MemoryWarmup = warmup;
        if (Count("SPINDLE_HOT_INSTANCES") is { } hot) o.HotInstances = hot;
        if (Number("SPINDLE_HOT_KEEP_RESIDENT") is { } hotResident) o.HotKeepResident = hotResident;
        if (Switch("SPINDLE_HOT_MEMORY_WARMUP") is { } hotWarmup) o.HotMemoryWarmup = hotWarmup;
        if (Count("SPINDLE_RESIDENT_INSTANCES") is { } resident) o.ResidentInstances = resident;
        o.CacheDirectory = Get("SPINDLE_CACHE_DIR") ?? (Get("XDG_CACHE_HOME") is { } xdg ? Path.Combine(xdg, "spindle") : null);
        return o;
    }

    /// <summary>Checks the engine settings; an invalid one that a variable set is reported by the variable's name.</summary>
    private static void Check(SpindleEngineOptions engine)
    {
        if (engine.Validate() is not [var first, ..]) return;
        var setting = first.Key[(first.Key.LastIndexOf(':') + 1)..];
        var variable = EngineVariables.FirstOrDefault(v => v.Setting == setting).Variable;
        throw new SpindleStartupException(variable is null ? first.ToString() : $"{variable}={first.Value}: {first.Rule}");
    }

    private static long? EnvLong(Func<string, string?> env, string name) => env(name) is not { Length: > 0 } text ? null
        : long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n
        : throw new SpindleStartupException($"{name}='{text}': expected a number of bytes");

    private static int? EnvInt(Func<string, string?> env, string name) => env(name) is not { Length: > 0 } text ? null
        : int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n
        : throw new SpindleStartupException($"{name}='{text}': expected a number of bytes");

    private static List<KeyValuePair<string, string>> Pairs(string[]? values, string flag)
    {
        var result = new List<KeyValuePair<string, string>>();
        foreach (var v in values ?? [])
        {
            var eq = v.IndexOf('=');
            if (eq <= 0) throw new SpindleStartupException($"{flag} '{v}': expected KEY=VALUE");
            result.Add(new(v[..eq], v[(eq + 1)..]));
        }
        return result;
    }

    /// <summary><c>KEY=VALUE</c>, or <c>KEY=@path</c> to take the value from a file (as Spin).</summary>
    private static List<KeyValuePair<string, string>> VariablePairs(string[]? values)
    {
        var pairs = Pairs(values, "--variable");
        for (var i = 0; i < pairs.Count; i++)
        {
            var (key, value) = pairs[i];
            if (!value.StartsWith('@')) continue;
            try
            {
                pairs[i] = new(key, File.ReadAllText(value[1..]));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SpindleStartupException($"--variable {key}: cannot read '{value[1..]}': {e.Message}", e);
            }
        }
        return pairs;
    }

    private static TimeSpan? Duration(string? text)
    {
        if (text is null) return null;
        return DurationParser.TryParse(text, out var error) ?? throw new SpindleStartupException("--request-timeout: " + error);
    }
}
