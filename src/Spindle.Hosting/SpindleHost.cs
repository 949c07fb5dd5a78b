using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Spindle.App.Manifest;
using Spindle.App.Model;
using Spindle.App.RuntimeConfiguration;
using Spindle.App.Variables;
using Spindle.Outbound.Http;
using Spindle.Spin;
using Spindle.Spin.KeyValue;
using Spindle.Spin.Sqlite;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;
using Spindle.Wasi;

namespace Spindle.Hosting;

/// <summary>
/// Runs a Spin application on Kestrel. <see cref="StartAsync"/> loads and validates everything first (any problem
/// is a <see cref="SpindleStartupException"/> with one clear line and nothing listens), then binds and prints the
/// routes. <see cref="StopAsync"/> stops accepting, lets in-flight requests finish, and releases executors.
/// The host does not watch process signals; the caller (the CLI, a test) decides when to stop.
/// </summary>
public sealed class SpindleHost : IAsyncDisposable
{
    private static readonly System.Text.Encoding StrictUtf8 = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true);

    private readonly WebApplication _web;
    private readonly LoadedSpinApplication _loaded;
    private readonly ComponentLogFiles? _logFiles;
    private int _stopped;

    private SpindleHost(WebApplication web, LoadedSpinApplication loaded, ComponentLogFiles? logFiles, Uri baseUrl)
    {
        _web = web;
        _loaded = loaded;
        _logFiles = logFiles;
        Application = loaded.Application;
        BaseUrl = baseUrl;
    }

    /// <summary>The served application.</summary>
    public SpinHttpApplication Application { get; }

    /// <summary>The bound address (<c>http(s)://ip:port</c>; the real port when 0 was asked).</summary>
    public Uri BaseUrl { get; }

    /// <summary>Loads the application, binds the listener and starts serving.</summary>
    /// <exception cref="SpindleStartupException">Anything that prevents serving, in one line.</exception>
    public static async Task<SpindleHost> StartAsync(SpindleHostOptions options, CancellationToken cancellationToken = default)
    {
        var server = options.Server ?? new SpindleServerOptions();
        if (server.Validate() is [var invalid, ..])
            throw new SpindleStartupException(invalid.ToString());
        var app = OnlyComponents(LoadApp(options), options.ComponentIds);
        foreach (var id in options.FollowComponents)
            if (!app.Components.ContainsKey(id))
                throw new SpindleStartupException($"--follow '{id}': the application runs no such component (it runs: {string.Join(", ", app.Components.Keys.Order(StringComparer.Ordinal))})");
        var runtimeConfig = LoadRuntimeConfig(options);
        var listen = ListenAddress.Parse(options.ListenAddress);
        var ip = listen.Resolve();
        if (options.FindFreePort) listen = FreePort(listen, ip);
        var tls = LoadTls(options);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ApplicationName = "spindle",
            ContentRootPath = app.AppDirectory,
        });
        builder.Services.AddSingleton<IHostLifetime, CallerControlledLifetime>();
        // The same registration as an ASP.NET Core application's (AddSpindle): the settings, the registry that owns the
        // loaded application and releases it when the host has stopped, the health check. The executors are the
        // caller's, so no engine is created here.
        builder.Services.AddSingleton(options.Executors);
        builder.Services.AddSpindle(o => o.Server = server);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = server.ShutdownTimeout ?? TimeSpan.FromSeconds(30));
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        var minimum = options.Quiet ? LogLevel.Warning : LogLevel.Information;
        builder.Logging.SetMinimumLevel(minimum);
        // Guest output has a category per component (GuestOutput): the log files take all of it, the other providers
        // what --quiet and --follow leave.
        var follow = options.FollowComponents.Count == 0 ? null : options.FollowComponents.ToHashSet(StringComparer.Ordinal);
        var files = options.LogDirectory is { Length: > 0 } dir ? new ComponentLogFiles(dir) : null;
        builder.Logging.AddFilter((provider, category, level) =>
            category is null || !category.StartsWith(GuestOutput.CategoryPrefix, StringComparison.Ordinal) ? level >= minimum
            : provider == typeof(ComponentLogFiles).FullName
              || (level >= minimum && (follow is null || follow.Contains(category[GuestOutput.CategoryPrefix.Length..]))));
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // A bind failure becomes our one-line SpindleStartupException; the host's own stack-trace log adds nothing.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        // While this category is enabled at any level, ASP.NET Core starts an Activity and a log scope for every
        // request (an ExecutionContext, an AsyncLocal map, the scope object) only to enrich logs we filter out.
        // Tracing listeners (ActivitySource, DiagnosticListener) still get their activities.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        options.ConfigureLogging?.Invoke(builder.Logging);
        if (files is not null) builder.Logging.AddProvider(files); // after the caller's configuration, which may clear providers
        Telemetry.TelemetrySetup.AddSpindleTelemetry(builder, app.Name); // OTLP export, only when an endpoint is configured
        if (tls is not null) builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // Spin passes UTF-8 header values through; Kestrel's default accepts ASCII only. Content-Length keeps
            // Kestrel's own parsing: its custom-encoding path throws on a value longer than 20 characters and drops
            // the connection, where the default answers 400.
            k.RequestHeaderEncodingSelector = static name =>
                string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) ? null : StrictUtf8;
            // Spin has no request-body limit; Kestrel's default (30 MB) would cut larger uploads off.
            k.Limits.MaxRequestBodySize = server.MaxRequestBodySize;
            // hyper's max_buf_size bounds what it buffers of a request's head; Kestrel bounds the line and the headers.
            if (server.Http1MaxBufferSize is { } head)
            {
                k.Limits.MaxRequestLineSize = head;
                k.Limits.MaxRequestHeadersTotalSize = head;
            }
            k.Listen(ip, listen.Port, lo =>
            {
                if (tls is { } t)
                {
                    lo.Protocols = HttpProtocols.Http1AndHttp2;
                    lo.UseHttps(h =>
                    {
                        h.ServerCertificate = t.Certificate;
                        h.ServerCertificateChain = t.Chain;
                    });
                }
                else
                    lo.Protocols = HttpProtocols.Http1;
            });
        });

        var web = builder.Build();
        var loggerFactory = web.Services.GetRequiredService<ILoggerFactory>();
        LoadedSpinApplication loaded;
        try
        {
            loaded = await SpinApplicationLoader.LoadAsync(new SpinApplicationLoad
            {
                App = app,
                RuntimeConfig = runtimeConfig,
                StateDirectory = options.StateDirectory,
                SqliteStatements = options.SqliteStatements,
                KeyValueSeeds = options.KeyValueSeeds,
                Variables = options.Variables,
                EnvironmentVariables = options.EnvironmentVariables,
                Executors = options.Executors,
                Server = server,
                OutboundH2cPriorKnowledge = options.OutboundH2cPriorKnowledge,
                ConfigureOutbound = options.ConfigureOutbound,
                Quiet = options.Quiet,
            }, loggerFactory);
        }
        catch (SpindleStartupException)
        {
            await web.DisposeAsync();
            throw;
        }
        var (spin, keyValue) = (loaded.Application, loaded.KeyValue);
        web.Services.GetRequiredService<SpinApplicationRegistry>().Add(options.ManifestPath ?? options.ComponentPath ?? app.AppDirectory, loaded);

        web.RunSpinApplication(spin, web.Services.GetRequiredService<ILogger<SpinHttpTrigger>>());
        try
        {
            await web.StartAsync(cancellationToken);
        }
        catch (OptionsValidationException e)
        {
            await loaded.DisposeAsync();
            await web.DisposeAsync();
            throw new SpindleStartupException(string.Join("; ", e.Failures), e);
        }
        catch (IOException e)
        {
            await loaded.DisposeAsync();
            await web.DisposeAsync();
            var why = e.InnerException is AddressInUseException || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase)
                ? "address already in use"
                : e.Message;
            throw new SpindleStartupException($"cannot listen on {listen}: {why}" + (why == "address already in use" && !options.FindFreePort
                ? " (--find-free-port tries the next 9 ports)" : ""), e);
        }

        var bound = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        var baseUrl = BaseUrlFrom(bound, tls is not null, ip, listen.Port);
        spin.Outbound.Self = SelfOriginOf(baseUrl, tls?.Certificate);
        var host = new SpindleHost(web, loaded, files, baseUrl);
        foreach (var line in keyValue.Summary) loggerFactory.CreateLogger("Spindle.KeyValue").KeyValueStore(line);
        if (!options.Quiet) host.PrintRoutes(options.Output ?? Console.Out, options.RouteListing);
        return host;
    }

    /// <summary>Fewest bytes <see cref="SpindleServerOptions.Http1MaxBufferSize"/> may be, as Spin's minimum.</summary>
    public const int MinHttp1BufferSize = SpindleServerOptions.MinHttp1BufferSize;

    /// <summary>Prints the base URL and the routes in precedence order, as <c>spin up</c> does (plain text, or one JSON object).</summary>
    public void PrintRoutes(TextWriter output, RouteListingFormat format = RouteListingFormat.Plain)
    {
        ArgumentNullException.ThrowIfNull(output);
        var root = BaseUrl.GetLeftPart(UriPartial.Authority);
        if (format == RouteListingFormat.Json)
        {
            var routes = new System.Text.Json.Nodes.JsonArray();
            foreach (var r in Application.Router.Routes)
            {
                var entry = new System.Text.Json.Nodes.JsonObject
                {
                    ["id"] = r.Target,
                    ["route"] = r.Pattern.DisplayPrefix,
                    ["wildcard"] = r.Pattern.IsTrailingWildcard,
                };
                if (Application.App.Components.GetValueOrDefault(r.Target)?.Description is { } description) entry["description"] = description;
                routes.Add(entry);
            }
            var listing = new System.Text.Json.Nodes.JsonObject { ["base_url"] = root, ["routes"] = routes };
            output.WriteLine(listing.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        }
        else
        {
            output.WriteLine($"Serving {root}");
            output.WriteLine("Available Routes:");
            foreach (var r in Application.Router.Routes)
            {
                var wildcard = r.Pattern.IsTrailingWildcard ? " (wildcard)" : "";
                output.WriteLine($"  {r.Target}: {root}{r.Pattern.DisplayPrefix}{wildcard}");
            }
        }
        output.Flush();
    }

    /// <summary>
    /// <c>-c/--component-id</c>: the application with only these components and their routes (static responses
    /// stay). An id the manifest does not have is an error naming the ones it has.
    /// </summary>
    private static SpinApp OnlyComponents(SpinApp app, IReadOnlyList<string> ids)
    {
        if (ids.Count == 0) return app;
        foreach (var id in ids)
            if (!app.Components.ContainsKey(id))
                throw new SpindleStartupException($"--component-id '{id}': the application has no such component (it has: {string.Join(", ", app.Components.Keys.Order(StringComparer.Ordinal))})");
        var keep = ids.ToHashSet(StringComparer.Ordinal);
        return app with
        {
            HttpTriggers = app.HttpTriggers.Where(t => t.ComponentId is null || keep.Contains(t.ComponentId)).ToArray(),
            Components = app.Components.Where(c => keep.Contains(c.Key)).ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal),
        };
    }

    /// <summary>
    /// <c>--find-free-port</c>: the first of the given port and the next 9 that can be bound (port 0 asks the
    /// system anyway). Probed here, before anything is built, so that the startup error names the range.
    /// </summary>
    private static ListenAddress FreePort(ListenAddress listen, IPAddress ip)
    {
        if (listen.Port == 0) return listen;
        const int Tries = 10;
        for (var port = listen.Port; port < listen.Port + Tries && port <= IPEndPoint.MaxPort; port++)
        {
            using var probe = new System.Net.Sockets.Socket(ip.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            try
            {
                probe.Bind(new IPEndPoint(ip, port));
                return listen with { Port = port };
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
            {
            }
        }
        throw new SpindleStartupException($"cannot listen on {listen.Host}: ports {listen.Port}-{Math.Min(listen.Port + Tries - 1, IPEndPoint.MaxPort)} are all in use");
    }

    /// <summary>Stops accepting connections, waits for in-flight requests (up to the shutdown timeout), releases executors.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        await _web.StopAsync(cancellationToken); // the registry releases the application once the host has stopped
        await _loaded.DisposeAsync(); // (no-op then; here in case stopping was cut short)
        _logFiles?.Dispose(); // added as an instance, so the logger factory leaves it open
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _web.DisposeAsync();
    }

    private static SpinApp LoadApp(SpindleHostOptions options)
    {
        var loadOptions = new ManifestLoadOptions { EnvironmentOverrides = options.Environment };
        try
        {
            return (options.ManifestPath, options.ComponentPath) switch
            {
                (not null, null) => ManifestLoader.Load(options.ManifestPath, loadOptions),
                (null, not null) => SingleComponentApp.Create(options.ComponentPath, loadOptions),
                _ => throw new SpindleStartupException("give either a manifest or a component to serve, not both or neither"),
            };
        }
        catch (ManifestException e)
        {
            throw new SpindleStartupException(e.Message, e);
        }
    }

    private static RuntimeConfig LoadRuntimeConfig(SpindleHostOptions options)
    {
        if (options.RuntimeConfigPath is not { } path)
            return RuntimeConfig.Empty;
        try
        {
            return RuntimeConfigLoader.Load(path);
        }
        catch (ManifestException e)
        {
            throw new SpindleStartupException(e.Message, e);
        }
    }

    private static (System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate, System.Security.Cryptography.X509Certificates.X509Certificate2Collection Chain)? LoadTls(SpindleHostOptions options)
    {
        var (cert, key) = (options.TlsCertificatePath, options.TlsKeyPath);
        if (cert is null && key is null) return null;
        if (cert is null || key is null)
            throw new SpindleStartupException("both --tls-cert and --tls-key (or SPIN_TLS_CERT and SPIN_TLS_KEY) are needed for HTTPS");
        return TlsCertificateLoader.Load(cert, key);
    }

    private static Uri BaseUrlFrom(string? bound, bool tls, IPAddress ip, int port)
    {
        var scheme = tls ? "https" : "http";
        if (bound is not null && Uri.TryCreate(bound, UriKind.Absolute, out var u))
            return new UriBuilder(scheme, ip.ToString(), u.Port).Uri;
        return new UriBuilder(scheme, ip.ToString(), port).Uri;
    }

    /// <summary>
    /// Self-requests go to the address actually bound (a wildcard address is reached through loopback), never to
    /// what a client put in <c>Host</c>; over HTTPS the listener's own certificate is trusted for them.
    /// </summary>
    internal static SelfOrigin SelfOriginOf(Uri baseUrl, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
    {
        var ip = IPAddress.Parse(baseUrl.Host.Trim('[', ']'));
        if (ip.Equals(IPAddress.Any)) ip = IPAddress.Loopback;
        else if (ip.Equals(IPAddress.IPv6Any)) ip = IPAddress.IPv6Loopback;
        var authority = new IPEndPoint(ip, baseUrl.Port).ToString();
        return new SelfOrigin(new Dictionary<string, string> { [baseUrl.Scheme] = authority }, certificate);
    }

    /// <summary>The generic host must not hook Ctrl-C/SIGTERM: the CLI does, and in-process tests must not.</summary>
    private sealed class CallerControlledLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
