using Microsoft.Extensions.Logging;
using Spindle.Trigger.Http.Executors;

namespace Spindle.Hosting;

/// <summary>What <see cref="SpindleHost"/> runs and how (the <c>spindle up</c> / <c>spindle serve</c> flags).</summary>
public sealed record SpindleHostOptions
{
    /// <summary>Default listen address, as Spin's (<c>127.0.0.1:3000</c>).</summary>
    public const string DefaultListenAddress = "127.0.0.1:3000";

    /// <summary>The manifest (a file, or a folder with <c>spin.toml</c>). Exactly one of this and <see cref="ComponentPath"/>.</summary>
    public string? ManifestPath { get; init; }

    /// <summary><c>spindle serve</c>: one component on every path (route <c>/...</c>).</summary>
    public string? ComponentPath { get; init; }

    /// <summary><c>HOST:PORT</c> to listen on (port 0 picks a free port); names resolve with IPv4 preferred.</summary>
    public string ListenAddress { get; init; } = DefaultListenAddress;

    /// <summary>
    /// <c>--find-free-port</c>: when the port of <see cref="ListenAddress"/> is taken, listen on the first free one of
    /// the next 9, as Spin does.
    /// </summary>
    public bool FindFreePort { get; init; }

    /// <summary><c>--format plain|json</c>: how the startup listing of routes is printed.</summary>
    public RouteListingFormat RouteListing { get; init; } = RouteListingFormat.Plain;

    /// <summary>
    /// <c>-c/--component-id</c>: run only these components (their routes; the others' are not served, and chaining
    /// to them fails as to any component that does not exist). Empty: all.
    /// </summary>
    public IReadOnlyList<string> ComponentIds { get; init; } = [];

    /// <summary>
    /// <c>-L/--log-dir</c> (<c>SPIN_LOG_DIR</c>): the folder where each component's stdout and stderr are appended to
    /// <c>&lt;component&gt;_stdout.txt</c> and <c>&lt;component&gt;_stderr.txt</c>, whatever the console shows. Null: none.
    /// </summary>
    public string? LogDirectory { get; init; }

    /// <summary><c>--follow</c>: the components whose guest output the console shows (empty: all).</summary>
    public IReadOnlyList<string> FollowComponents { get; init; } = [];

    /// <summary>PEM certificate chain; with <see cref="TlsKeyPath"/> enables HTTPS (HTTP/1.1 and HTTP/2 by ALPN).</summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>PEM private key (PKCS#8, PKCS#1 or SEC1).</summary>
    public string? TlsKeyPath { get; init; }

    /// <summary><c>-e KEY=VALUE</c> for every component.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];

    /// <summary><c>--variable KEY=VALUE</c> (last wins; before <c>SPIN_VARIABLE_*</c> and defaults).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Variables { get; init; } = [];

    /// <summary>
    /// Where <c>SPIN_VARIABLE_&lt;NAME&gt;</c> values are read from (the CLI passes <see cref="System.Environment.GetEnvironmentVariable(string)"/>);
    /// null: no environment variable provides values.
    /// </summary>
    public Func<string, string?>? EnvironmentVariables { get; init; }

    /// <summary>
    /// The serving settings (request timeout, body and header limits, instance reuse, admission, chain depth, shutdown
    /// timeout): the <c>Server</c> part of <see cref="SpindleOptions"/>, checked at start.
    /// </summary>
    public SpindleServerOptions Server { get; init; } = new();

    /// <summary><c>--runtime-config-file</c> (Spin's TOML: outbound HTTP, blocked networks, client TLS); null for none.</summary>
    public string? RuntimeConfigPath { get; init; }

    /// <summary>Where the default key-value store and SQLite database live (<c>--state-dir</c>); null: the runtime config's <c>state_dir</c>, else <c>.spin</c> beside the manifest.</summary>
    public string? StateDirectory { get; init; }

    /// <summary>Pairs set in the <c>default</c> key-value store before serving (<c>--key-value KEY=VALUE</c>), replacing values.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> KeyValueSeeds { get; init; } = [];

    /// <summary>SQL run before serving (<c>--sqlite</c>): a statement against <c>default</c>, or <c>@file[:label]</c> (every statement of a file, relative to the current directory).</summary>
    public IReadOnlyList<string> SqliteStatements { get; init; } = [];

    /// <summary>The authority plain-HTTP outbound requests reach with HTTP/2 prior knowledge (Spin's <c>SPIN_OUTBOUND_H2C_PRIOR_KNOWLEDGE</c>).</summary>
    public string? OutboundH2cPriorKnowledge { get; init; }

    /// <summary>Adjusts the outbound options built from the runtime configuration (for example name resolution, <see cref="Spindle.Outbound.Http.OutboundHttpOptions.Resolve"/>).</summary>
    public Func<Spindle.Outbound.Http.OutboundHttpOptions, Spindle.Outbound.Http.OutboundHttpOptions>? ConfigureOutbound { get; init; }

    /// <summary><c>--quiet</c>: no route listing, only warnings and errors in the log, guest output silenced.</summary>
    public bool Quiet { get; init; }

    /// <summary>The executors this host can run (wasi:http components, Wagi modules).</summary>
    public ExecutorFactoryRegistry Executors { get; init; } = new();

    /// <summary>Where the startup listing goes (default: standard output).</summary>
    public TextWriter? Output { get; init; }

    /// <summary>Extra logging configuration (tests add their own providers).</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }
}

/// <summary>How <c>spindle up</c> prints its routes at startup.</summary>
public enum RouteListingFormat
{
    /// <summary><c>Serving http://…</c>, then one line per route, as <c>spin up</c>.</summary>
    Plain,

    /// <summary>One JSON object: <c>base_url</c> and <c>routes</c> (<c>id</c>, <c>route</c>, <c>wildcard</c>, <c>description</c>), as <c>spin up --format json</c>.</summary>
    Json,
}
