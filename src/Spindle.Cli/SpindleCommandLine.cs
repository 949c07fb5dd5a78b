using System.CommandLine;
using System.Runtime.InteropServices;
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
    /// Parses <paramref name="args"/> and runs the command until Ctrl-C/SIGTERM (then drains and returns 0). The Wasm
    /// runtime is created from the engine flags (<c>--disable-pooling</c>, <c>--cache-dir</c>, <c>--disable-cache</c>,
    /// <c>--max-instance-memory</c>) and disposed when the host has stopped.
    /// </summary>
    public static Task<int> RunAsync(string[] args, Func<RuntimeSettings, WasmExecutors> runtime, TextWriter? output = null, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        return RunAsync(args, settings =>
        {
            var wasm = runtime(settings);
            return (wasm.CreateRegistry(), wasm);
        }, output, error);
    }

    /// <summary>As the other overload, with a fixed set of executors (tests; the engine flags are parsed but not used).</summary>
    public static Task<int> RunAsync(string[] args, ExecutorFactoryRegistry executors, TextWriter? output = null, TextWriter? error = null) =>
        RunAsync(args, _ => (executors, null), output, error);

    private static async Task<int> RunAsync(string[] args, Func<RuntimeSettings, (ExecutorFactoryRegistry, IDisposable?)> runtime, TextWriter? output, TextWriter? error)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        var root = Build(runtime, output, error);
        // We handle signals ourselves so that draining in-flight requests is not cut short.
        return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, Output = output, Error = error });
    }

    /// <summary>Builds the command tree with fixed executors (exposed for tests of flag parsing).</summary>
    public static RootCommand Build(ExecutorFactoryRegistry executors, TextWriter output, TextWriter error) => Build(_ => (executors, null), output, error);

    private static RootCommand Build(Func<RuntimeSettings, (ExecutorFactoryRegistry Registry, IDisposable? Owner)> runtime, TextWriter output, TextWriter error)
    {
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
        up.SetAction((parse, ct) => RunHostAsync(output, error, () => runtime(new RuntimeSettings
        {
            Pooling = !parse.GetValue(disablePooling),
            CacheDirectory = parse.GetValue(cacheDir),
            UseArtifactCache = !parse.GetValue(disableCache),
            MaxInstanceMemory = Positive(parse.GetValue(maxInstanceMemory) ?? EnvLong("SPIN_MAX_INSTANCE_MEMORY"), "--max-instance-memory"),
        }), executors => new SpindleHostOptions
        {
            ManifestPath = parse.GetValue(from),
            ListenAddress = parse.GetValue(listen)!,
            TlsCertificatePath = parse.GetValue(tlsCert) ?? NonEmptyEnv("SPIN_TLS_CERT"),
            TlsKeyPath = parse.GetValue(tlsKey) ?? NonEmptyEnv("SPIN_TLS_KEY"),
            Environment = Pairs(parse.GetValue(env), "--env"),
            Variables = VariablePairs(parse.GetValue(variable)),
            RequestTimeout = Duration(parse.GetValue(timeout)),
            MaxRequestBodySize = parse.GetValue(maxBody),
            Quiet = parse.GetValue(quiet),
            InstanceReuse = parse.GetValue(instanceReuse) == "on",
            RuntimeConfigPath = parse.GetValue(runtimeConfig) ?? NonEmptyEnv("RUNTIME_CONFIG_FILE"),
            StateDirectory = parse.GetValue(stateDir),
            KeyValueSeeds = Pairs(parse.GetValue(keyValue), "--key-value"),
            SqliteStatements = parse.GetValue(sqlite) ?? [],
            OutboundH2cPriorKnowledge = NonEmptyEnv("SPIN_OUTBOUND_H2C_PRIOR_KNOWLEDGE"),
            FindFreePort = parse.GetValue(findFreePort),
            RouteListing = parse.GetValue(format) == "json" ? RouteListingFormat.Json : RouteListingFormat.Plain,
            Http1MaxBufferSize = parse.GetValue(http1MaxBuf) ?? EnvInt("SPIN_HTTP1_MAX_BUF_SIZE"),
            ComponentIds = parse.GetValue(componentIds) ?? [],
            LogDirectory = parse.GetValue(logDir) ?? NonEmptyEnv("SPIN_LOG_DIR"),
            FollowComponents = parse.GetValue(follow) ?? [],
            Executors = executors,
            Output = output,
        }, ct));

        var component = new Argument<string>("component") { Description = "The .wasm component to serve on every path" };
        var serveListen = ListenOption();
        var serve = new Command("serve", "Serve one component on every path (route /...)") { component, serveListen };
        serve.SetAction((parse, ct) => RunHostAsync(output, error, () => runtime(new RuntimeSettings()), executors => new SpindleHostOptions
        {
            ComponentPath = parse.GetValue(component),
            ListenAddress = parse.GetValue(serveListen)!,
            Executors = executors,
            Output = output,
        }, ct));

        return new RootCommand("Spindle: run Spin applications on .NET") { up, serve };
    }

    private static Option<string> ListenOption() => new("--listen")
    {
        Description = "Address to listen on, HOST:PORT [env: SPIN_HTTP_LISTEN_ADDR]",
        DefaultValueFactory = _ => NonEmptyEnv("SPIN_HTTP_LISTEN_ADDR") ?? SpindleHostOptions.DefaultListenAddress,
    };

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

    private static long? EnvLong(string name) => NonEmptyEnv(name) is not { } text ? null
        : long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n
        : throw new SpindleStartupException($"{name}='{text}': expected a number of bytes");

    private static int? EnvInt(string name) => NonEmptyEnv(name) is not { } text ? null
        : int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n
        : throw new SpindleStartupException($"{name}='{text}': expected a number of bytes");

    private static string? NonEmptyEnv(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

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
