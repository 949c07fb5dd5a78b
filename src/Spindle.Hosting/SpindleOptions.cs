using System.Globalization;
using Microsoft.Extensions.Options;
using Spindle.Engine;
using Spindle.Trigger.Http.Server;

namespace Spindle.Hosting;

/// <summary>
/// Every engine and server setting of Spindle, one typed object (configuration section <see cref="SectionName"/>):
/// <see cref="Engine"/> (<c>Spindle:Engine:*</c>) and <see cref="Server"/> (<c>Spindle:Server:*</c>). Bound from
/// configuration by <see cref="SpindleServiceCollectionExtensions.AddSpindle"/> and checked at start by
/// <see cref="SpindleOptionsValidator"/>; <c>spindle up</c> maps its flags and the <c>SPINDLE_*</c> variables onto it.
/// </summary>
public sealed class SpindleOptions
{
    /// <summary>The configuration section the options are bound from: <c>Spindle</c>.</summary>
    public const string SectionName = "Spindle";

    /// <summary>The Wasm engine: pools, lanes, fiber stacks, artifact cache, memory limit.</summary>
    public SpindleEngineOptions Engine { get; set; } = new();

    /// <summary>Serving: admission, body and header limits, timeouts, instance reuse, chaining.</summary>
    public SpindleServerOptions Server { get; set; } = new();

    /// <summary>Every invalid setting, each naming its key and value (empty: all valid).</summary>
    public IReadOnlyList<SettingError> Validate() =>
        [.. (Engine ?? new()).Validate($"{SectionName}:Engine:"), .. (Server ?? new()).Validate($"{SectionName}:Server:")];
}

/// <summary>The serving settings (configuration section <c>Spindle:Server</c>).</summary>
public sealed record SpindleServerOptions
{
    /// <summary>Fewest bytes <see cref="Http1MaxBufferSize"/> may be, as Spin's minimum.</summary>
    public const int MinHttp1BufferSize = 8192;

    /// <summary>How requests wait when their component cannot run them at once (queue bound and wait, then 503).</summary>
    public AdmissionOptions Admission { get; set; } = new();

    /// <summary>
    /// <c>--max-request-body-size</c>: the most bytes a request body may have; a larger one is answered 413 (before
    /// any guest runs when its <c>Content-Length</c> says so). Null (the default, as Spin): no limit.
    /// </summary>
    public long? MaxRequestBodySize { get; set; }

    /// <summary><c>--request-timeout</c>: per-request deadline; past it a request not yet answered gets 500. Null: none.</summary>
    public TimeSpan? RequestTimeout { get; set; }

    /// <summary>
    /// <c>--instance-reuse on|off</c> (default on): whether a wasi:http component's instance, after a request whose
    /// guest returned normally, is reset to its just-instantiated state and serves the next request
    /// (<see cref="HotLane"/>), or every request gets a fresh instance, as in Spin. Wagi modules always get a fresh one.
    /// </summary>
    public bool InstanceReuse { get; set; } = true;

    /// <summary>
    /// <c>--http1-max-buf-size</c> (<c>SPIN_HTTP1_MAX_BUF_SIZE</c>): the most bytes an HTTP/1.1 request line and headers
    /// may take (at least 8192; larger requests are answered 431 or 414). Null: Kestrel's defaults. Applies to the
    /// listener <c>spindle up</c> owns; an ASP.NET Core application configures its own Kestrel.
    /// </summary>
    public int? Http1MaxBufferSize { get; set; }

    /// <summary>
    /// How long in-flight requests may take to finish when stopping (null: the host's own <c>HostOptions.ShutdownTimeout</c>,
    /// 30 s for <c>spindle up</c>). Set, it becomes the host's shutdown timeout.
    /// </summary>
    public TimeSpan? ShutdownTimeout { get; set; }

    /// <summary>Longest <c>*.spin.internal</c> chain before <c>loop-detected</c> (default 10).</summary>
    public int MaxChainDepth { get; set; } = 10;

    /// <summary>
    /// Checks every setting; each problem is one <see cref="SettingError"/> whose key is <paramref name="prefix"/> plus
    /// the property name (e.g. <c>Spindle:Server:MaxRequestBodySize</c>).
    /// </summary>
    public IReadOnlyList<SettingError> Validate(string prefix = "Spindle:Server:")
    {
        var errors = new List<SettingError>();
        void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) errors.Add(new SettingError(prefix + name, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "(null)", rule));
        }
        Check(MaxRequestBodySize is null or >= 0, nameof(MaxRequestBodySize), MaxRequestBodySize, "must be a number of bytes (0 or more), or unset for no limit");
        Check(RequestTimeout is null || RequestTimeout > TimeSpan.Zero, nameof(RequestTimeout), RequestTimeout, "must be positive, or unset for none");
        Check(Http1MaxBufferSize is null or >= MinHttp1BufferSize, nameof(Http1MaxBufferSize), Http1MaxBufferSize,
            $"must be at least {MinHttp1BufferSize} bytes, or unset for Kestrel's defaults");
        Check(ShutdownTimeout is null || ShutdownTimeout >= TimeSpan.Zero, nameof(ShutdownTimeout), ShutdownTimeout, "must not be negative");
        Check(MaxChainDepth >= 1, nameof(MaxChainDepth), MaxChainDepth, "must be 1 or more");
        var admission = Admission ?? new AdmissionOptions();
        Check(admission.QueueLimit >= 0, "Admission:QueueLimit", admission.QueueLimit, "must be 0 or more");
        Check(admission.QueueTimeout > TimeSpan.Zero, "Admission:QueueTimeout", admission.QueueTimeout, "must be positive");
        Check(admission.RetryAfterSeconds >= 0, "Admission:RetryAfterSeconds", admission.RetryAfterSeconds, "must be 0 or more");
        Check(admission.RunningPerComponent >= 1, "Admission:RunningPerComponent", admission.RunningPerComponent, "must be 1 or more");
        return errors;
    }
}

/// <summary>
/// Checks <see cref="SpindleOptions"/> when they are first used (at start with <c>ValidateOnStart</c>): every invalid
/// setting is one failure, <c>Spindle:Engine:PoolInstances = 0: must be 1..1000000</c>.
/// </summary>
public sealed class SpindleOptionsValidator : IValidateOptions<SpindleOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SpindleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.ToString()));
    }
}
