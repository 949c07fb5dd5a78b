namespace Spindle.App.Model;

/// <summary>One <c>[[trigger.http]]</c> entry.</summary>
/// <param name="Id">Trigger id (given, or generated as Spin does).</param>
/// <param name="Index">Position in the manifest (0-based), used for declaration order.</param>
/// <param name="Route">The route.</param>
/// <param name="ComponentId">The component that handles the route; <c>null</c> for a static response.</param>
/// <param name="StaticResponse">The fixed response; <c>null</c> when a component handles the route.</param>
/// <param name="Executor">How the component is run.</param>
public sealed record HttpTrigger(
    string Id,
    int Index,
    TriggerRoute Route,
    string? ComponentId,
    StaticResponse? StaticResponse,
    ExecutorConfig Executor);

/// <summary>A trigger route: a pattern string as written, or private (reachable only by service chaining).</summary>
/// <param name="Pattern">The route exactly as written; <c>null</c> when private.</param>
public sealed record TriggerRoute(string? Pattern)
{
    /// <summary>Whether the route is <c>{ private = true }</c>.</summary>
    public bool IsPrivate => Pattern is null;

    /// <summary>The private route.</summary>
    public static TriggerRoute Private { get; } = new((string?)null);

    /// <inheritdoc />
    public override string ToString() => Pattern ?? "{ private = true }";
}

/// <summary>A fixed response (<c>static_response = { status_code?, headers?, body? }</c>).</summary>
/// <param name="StatusCode">Status (default 200).</param>
/// <param name="Headers">Headers in manifest order.</param>
/// <param name="Body">Text body (may be empty).</param>
public sealed record StaticResponse(int StatusCode, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body);

/// <summary>Which executor runs a component.</summary>
public enum ExecutorKind
{
    /// <summary>Absent, <c>spin</c> or <c>http</c>: the component's export decides (wasi:http, legacy inbound-http).</summary>
    Http,
    /// <summary><c>wagi</c>: a WASI command run as CGI.</summary>
    Wagi,
}

/// <summary>The <c>executor</c> table.</summary>
/// <param name="Kind">The executor kind.</param>
/// <param name="TypeName">The type as written (<c>spin</c>, <c>http</c>, <c>wagi</c>), <c>null</c> if absent.</param>
/// <param name="Argv">Wagi argv template (default <c>${SCRIPT_NAME} ${ARGS}</c>).</param>
/// <param name="Entrypoint">Wagi export to call (default <c>_start</c>).</param>
public sealed record ExecutorConfig(ExecutorKind Kind, string? TypeName, string Argv, string Entrypoint)
{
    /// <summary>The Wagi default argv template.</summary>
    public const string DefaultWagiArgv = "${SCRIPT_NAME} ${ARGS}";

    /// <summary>The Wagi default entry point.</summary>
    public const string DefaultWagiEntrypoint = "_start";

    /// <summary>The default (component model) executor.</summary>
    public static ExecutorConfig Default { get; } = new(ExecutorKind.Http, null, DefaultWagiArgv, DefaultWagiEntrypoint);
}
