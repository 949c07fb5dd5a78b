namespace Spindle.Trigger.Http.Executors;

/// <summary>
/// The engine settings <c>spindle up</c> takes from Spin's flags (<see cref="WasmExecutors.Create(RuntimeSettings)"/>);
/// everything else keeps the measured defaults of <see cref="WasmExecutors.DefaultEngineOptions"/>.
/// </summary>
public sealed record RuntimeSettings
{
    /// <summary><c>--disable-pooling</c> turns this off: instances are allocated on demand, and there are no warm lanes.</summary>
    public bool Pooling { get; init; } = true;

    /// <summary><c>--cache-dir</c>: where compiled artifacts are kept (null: <c>$SPINDLE_CACHE_DIR</c>, else the XDG cache directory).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary><c>--disable-cache</c> turns this off: every start compiles every module.</summary>
    public bool UseArtifactCache { get; init; } = true;

    /// <summary><c>--max-instance-memory</c> (<c>SPIN_MAX_INSTANCE_MEMORY</c>): the most bytes a guest's memory may grow to (null: no limit).</summary>
    public long? MaxInstanceMemory { get; init; }
}
