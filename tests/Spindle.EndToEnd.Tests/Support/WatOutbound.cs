using System.Globalization;
using System.Net;
using System.Text;
using Spindle.Hosting;
using Spindle.Outbound.Http;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>
/// Drives the WAT outbound fixture (tests/fixtures/wat/http-outbound.wat): a guest that makes the one outbound request
/// the inbound request's <c>x-*</c> headers describe and answers with the outcome (<see cref="WatReply"/>).
/// </summary>
public static class WatOutbound
{
    /// <summary>The manifest reference of the built fixture.</summary>
    public const string Fixture = "{fixture:wat/http-outbound.wasm}";

    /// <summary>wasi:http <c>error-code</c> case indexes the guest reports in <c>x-error-code</c>.</summary>
    public static class ErrorCode
    {
        public const int DnsError = 1;
        public const int DestinationIpProhibited = 4;
        public const int ConnectionRefused = 6;
        public const int ConnectionTimeout = 8;
        public const int ConnectionReadTimeout = 9;
        public const int ConnectionLimitReached = 11;
        public const int TlsProtocolError = 12;
        public const int TlsCertificateError = 13;
        public const int HttpRequestDenied = 15;
        public const int HttpRequestUriInvalid = 19;
        public const int HttpProtocolError = 35;
        public const int LoopDetected = 36;
        public const int InternalError = 38;
    }

    /// <summary>A one-component application: component <paramref name="componentId"/> on <c>/...</c> with <paramref name="allowed"/>.</summary>
    public static string Manifest(IEnumerable<string> allowed, string componentId = "out") =>
        Manifest([new WatComponent(componentId, "/...", allowed)]);

    /// <summary>
    /// An application of WAT outbound components (and <paramref name="extra"/> TOML appended verbatim, for other
    /// components or <c>[variables]</c>).
    /// </summary>
    public static string Manifest(IEnumerable<WatComponent> components, string? extra = null)
    {
        var toml = new StringBuilder("""
            spin_manifest_version = 2
            [application]
            name = "wat-outbound"

            """);
        var list = components.ToList();
        foreach (var c in list)
        {
            toml.AppendLine("[[trigger.http]]");
            toml.AppendLine(c.Route is null ? "route = { private = true }" : $"route = {Toml.Quote(c.Route)}");
            toml.AppendLine($"component = {Toml.Quote(c.Id)}");
        }
        foreach (var c in list)
        {
            toml.AppendLine($"[component.{c.Id}]");
            toml.AppendLine($"source = \"{Fixture}\"");
            toml.AppendLine($"allowed_outbound_hosts = {Toml.List(c.Allowed)}");
        }
        if (extra is not null) toml.AppendLine(extra);
        return toml.ToString();
    }

    /// <summary>
    /// A copy of the options <see cref="TestApp"/> made, with a runtime-config file, the h2c authority and an
    /// adjustment of the outbound options (for example <see cref="OutboundHttpOptions.Resolve"/>).
    /// </summary>
    public static SpindleHostOptions With(SpindleHostOptions o, string? runtimeConfigPath = null, string? h2cPriorKnowledge = null,
        Func<OutboundHttpOptions, OutboundHttpOptions>? configureOutbound = null) => new()
    {
        ManifestPath = o.ManifestPath,
        ListenAddress = o.ListenAddress,
        Executors = o.Executors,
        Output = o.Output,
        EnvironmentVariables = o.EnvironmentVariables,
        Server = o.Server,
        ConfigureLogging = o.ConfigureLogging,
        RuntimeConfigPath = runtimeConfigPath ?? o.RuntimeConfigPath,
        OutboundH2cPriorKnowledge = h2cPriorKnowledge ?? o.OutboundH2cPriorKnowledge,
        ConfigureOutbound = configureOutbound ?? o.ConfigureOutbound,
    };

    /// <summary><paramref name="o"/> with <paramref name="resolve"/> in place of DNS; everything else kept.</summary>
    public static OutboundHttpOptions WithResolve(OutboundHttpOptions o, Func<DnsEndPoint, CancellationToken, ValueTask<IPEndPoint[]>> resolve) => new()
    {
        ConnectionPooling = o.ConnectionPooling,
        MaxConnections = o.MaxConnections,
        IsBlocked = o.IsBlocked,
        ClientTls = o.ClientTls,
        H2cPriorKnowledge = o.H2cPriorKnowledge,
        MaxChainDepth = o.MaxChainDepth,
        Resolve = resolve,
    };

    /// <summary>Sends <paramref name="request"/> to the host and reads the guest's answer (body included).</summary>
    public static async Task<WatReply> SendWatAsync(this HttpClient client, WatRequest request, CancellationToken cancellation)
    {
        using var message = request.ToMessage();
        using var response = await client.SendAsync(message, cancellation);
        var body = await response.Content.ReadAsByteArrayAsync(cancellation);
        return new WatReply(response.StatusCode, Int(response, "x-error-code"), Int(response, "x-header-error"),
            Int(response, "x-upstream-status"), body);
    }

    private static int? Int(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? int.Parse(values.Single(), CultureInfo.InvariantCulture) : null;
}

/// <summary>One WAT outbound component of a test application; <paramref name="Route"/> null = a private route.</summary>
public sealed record WatComponent(string Id, string? Route, IEnumerable<string> Allowed);

/// <summary>What the WAT guest should send; each property becomes one of its <c>x-*</c> headers.</summary>
public sealed record WatRequest
{
    /// <summary>Where the inbound request goes on the host (the component's route).</summary>
    public string Route { get; init; } = "/";

    /// <summary><c>x-scheme</c>.</summary>
    public string? Scheme { get; init; }

    /// <summary><c>x-authority</c>; null = a relative request.</summary>
    public string? Authority { get; init; }

    /// <summary><c>x-path</c> (the guest's default is <c>/</c>).</summary>
    public string? Path { get; init; }

    /// <summary><c>x-method</c> (the guest's default is GET; POST streams <see cref="Body"/> upstream).</summary>
    public string? Method { get; init; }

    /// <summary><c>x-connect-timeout-ns</c>.</summary>
    public TimeSpan? ConnectTimeout { get; init; }

    /// <summary><c>x-first-byte-timeout-ns</c>.</summary>
    public TimeSpan? FirstByteTimeout { get; init; }

    /// <summary><c>x-forbidden-header</c>: a header name the guest appends to its outgoing headers.</summary>
    public string? ForbiddenHeader { get; init; }

    /// <summary><c>x-request-trailer</c>: on a POST, the trailer value the guest finishes its outgoing body with.</summary>
    public string? RequestTrailer { get; init; }

    /// <summary><c>x-body-first</c>: on a POST, the guest ends its outgoing body before it calls <c>handle</c>.</summary>
    public bool BodyFirst { get; init; }

    /// <summary>The inbound body (sent as a POST to the host).</summary>
    public HttpContent? Body { get; init; }

    /// <summary>A request for the absolute <paramref name="url"/> (<c>scheme://authority/path?query</c>).</summary>
    public static WatRequest For(string url, string route = "/")
    {
        var scheme = url[..url.IndexOf("://", StringComparison.Ordinal)];
        var rest = url[(scheme.Length + 3)..];
        var end = rest.IndexOfAny(['/', '?', '#']);
        var authority = end < 0 ? rest : rest[..end];
        var path = end < 0 ? "/" : rest[end..];
        if (path.StartsWith('?')) path = "/" + path;
        return new WatRequest { Route = route, Scheme = scheme, Authority = authority, Path = path };
    }

    /// <summary>The inbound request message.</summary>
    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(Body is null ? HttpMethod.Get : HttpMethod.Post, Route) { Content = Body };
        void Add(string name, string? value)
        {
            if (value is not null) message.Headers.TryAddWithoutValidation(name, value);
        }
        Add("x-scheme", Scheme);
        Add("x-authority", Authority);
        Add("x-path", Path);
        Add("x-method", Method);
        Add("x-connect-timeout-ns", Nanoseconds(ConnectTimeout));
        Add("x-first-byte-timeout-ns", Nanoseconds(FirstByteTimeout));
        Add("x-forbidden-header", ForbiddenHeader);
        Add("x-request-trailer", RequestTrailer);
        Add("x-body-first", BodyFirst ? "1" : null);
        return message;
    }

    private static string? Nanoseconds(TimeSpan? t) => t is { } v ? ((ulong)v.Ticks * 100).ToString(CultureInfo.InvariantCulture) : null;
}

/// <summary>The WAT guest's answer.</summary>
/// <param name="Status">The host's status (the upstream's when the request went through, else 200).</param>
/// <param name="ErrorCode"><c>x-error-code</c>: the wasi:http <c>error-code</c> case the request failed with.</param>
/// <param name="HeaderError"><c>x-header-error</c>: the <c>header-error</c> case appending the forbidden header failed with.</param>
/// <param name="UpstreamStatus"><c>x-upstream-status</c>: the response's status when the request went through.</param>
/// <param name="Body">The upstream's body, streamed through.</param>
public sealed record WatReply(HttpStatusCode Status, int? ErrorCode, int? HeaderError, int? UpstreamStatus, byte[] Body)
{
    /// <summary>The body as UTF-8.</summary>
    public string Text => Encoding.UTF8.GetString(Body);

    /// <inheritdoc />
    public override string ToString()
    {
        var preview = Body.Length <= 200 ? Text : $"{Body.Length} bytes";
        return $"status {(int)Status}, x-error-code {ErrorCode?.ToString(CultureInfo.InvariantCulture) ?? "-"}, " +
            $"x-header-error {HeaderError?.ToString(CultureInfo.InvariantCulture) ?? "-"}, " +
            $"x-upstream-status {UpstreamStatus?.ToString(CultureInfo.InvariantCulture) ?? "-"}, body '{preview}'";
    }
}

/// <summary>TOML literals for generated manifests and runtime-config files.</summary>
public static class Toml
{
    /// <summary>A TOML basic string.</summary>
    public static string Quote(string s)
    {
        var b = new StringBuilder("\"");
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case < ' ' or '\u007f': b.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}"); break;
                default: b.Append(c); break;
            }
        }
        return b.Append('"').ToString();
    }

    /// <summary>A TOML array of strings.</summary>
    public static string List(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(Quote)) + "]";
}
