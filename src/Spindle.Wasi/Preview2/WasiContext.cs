using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Preview2;

/// <summary>
/// The per-store state of a WASI 0.2 guest (the store data): identity, environment, stdio, cancellation and the
/// exit status. One per instantiation; not shared between requests.
/// </summary>
public class WasiContext : IDisposable
{
    private LineLogger? _stdout;
    private LineLogger? _stderr;

    /// <summary>The component id, used to tag its log lines.</summary>
    public string ComponentId { get; init; } = "component";

    /// <summary>What <c>get-environment</c> returns.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];

    /// <summary>What <c>get-arguments</c> returns.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>What <c>initial-cwd</c> returns (null for none).</summary>
    public string? InitialCwd { get; init; }

    /// <summary>Read-only directories <c>wasi:filesystem/preopens.get-directories</c> returns (the component's file mounts).</summary>
    public IReadOnlyList<Filesystem.WasiPreopen> Preopens { get; init; } = [];

    /// <summary>Receives stdout (Information, unless <see cref="StdoutStream"/> is set) and stderr (Warning), line by line.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>Creates the stream <c>get-stdin</c> returns (default: empty, closed).</summary>
    public Func<InputStream> Stdin { get; init; } = InputStream.Empty;

    /// <summary>
    /// Creates the stream <c>get-stdout</c> returns; null (the default) logs stdout line by line. Set by hosts for
    /// which stdout is the output (Wagi components: the CGI response). The stream is disposed when the guest drops it.
    /// </summary>
    public Func<OutputStream>? StdoutStream { get; init; }

    /// <summary>Cancelled when the store is torn down (deadline, client gone); waits inside host functions observe it.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>The status passed to <c>wasi:cli/exit</c> (0 for <c>ok</c>, 1 for <c>err</c>), or null if the guest did not exit.</summary>
    public int? ExitStatus { get; internal set; }

    /// <summary>stdout lines.</summary>
    public LineLogger Stdout => _stdout ??= new(Logger, ComponentId, "stdout", GuestOutput.LevelOf("stdout"));

    /// <summary>stderr lines.</summary>
    public LineLogger Stderr => _stderr ??= new(Logger, ComponentId, "stderr", GuestOutput.LevelOf("stderr"));

    /// <summary>Logs any partial stdio line.</summary>
    public virtual void Dispose()
    {
        _stdout?.FlushPartial();
        _stderr?.FlushPartial();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Thrown by <c>wasi:cli/exit.exit</c> to stop the guest; the status is also on <see cref="WasiContext.ExitStatus"/>.</summary>
public sealed class WasiExitException(int status) : Exception($"guest called wasi:cli/exit with status {status}")
{
    /// <summary>The exit status.</summary>
    public int Status { get; } = status;
}
