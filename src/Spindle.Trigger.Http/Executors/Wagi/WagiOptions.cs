using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spindle.Wasi.Preview1;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors.Wagi;

/// <summary>Everything <see cref="WagiExecutor.Create"/> needs to load one Wagi component.</summary>
public sealed class WagiOptions
{
    /// <summary>The process-wide engine.</summary>
    public required WasmEngine Engine { get; init; }

    /// <summary>The component id (logs and errors name it).</summary>
    public required string ComponentId { get; init; }

    /// <summary>The module bytes; when null, <see cref="ModulePath"/> is read.</summary>
    public ReadOnlyMemory<byte>? ModuleBytes { get; init; }

    /// <summary>The module file (used when <see cref="ModuleBytes"/> is null; named in load errors either way).</summary>
    public string? ModulePath { get; init; }

    /// <summary>Compile through the on-disk <see cref="ArtifactCache"/> (default) rather than in memory only.</summary>
    public bool UseArtifactCache { get; init; } = true;

    /// <summary>Receives "compiling..." messages on a cache miss.</summary>
    public IProgress<string>? CompileProgress { get; init; }

    /// <summary>The component's manifest <c>environment</c>, in order; placed before the CGI variables.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];

    /// <summary>The argv template (<c>executor.argv</c>); <c>${SCRIPT_NAME}</c> and <c>${ARGS}</c> are expanded.</summary>
    public string Argv { get; init; } = WagiCgiEnvironment.DefaultArgv;

    /// <summary>The export to call (<c>executor.entrypoint</c>); must be a function taking no parameters.</summary>
    public string Entrypoint { get; init; } = "_start";

    /// <summary>Read-only directories preopened for the guest (the component's <c>files</c>).</summary>
    public IReadOnlyList<WasiFileMount> Files { get; init; } = [];

    /// <summary>Where guest stderr and failures are logged.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>Receives the module's stderr lines (<see cref="Spindle.Wasi.GuestOutput"/>); null: <see cref="Logger"/>.</summary>
    public ILogger? OutputLogger { get; init; }

    /// <summary>Ends a request that runs longer (guest code by epoch deadline, host waits by cancellation): 500 or abort.</summary>
    public TimeSpan? RequestTimeout { get; init; }
}

/// <summary>A Wagi component could not be loaded; the message names the component, file and the problem.</summary>
public sealed class WagiLoadException(string message, Exception? inner = null) : Exception(message, inner);
