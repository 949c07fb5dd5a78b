namespace Spindle.Wasmtime;

/// <summary>
/// Settings for a <see cref="WasmEngine"/>. Epoch interruption is always on. Settings that change compiled
/// code are part of <see cref="WasmEngine.Fingerprint"/> (the artifact cache key).
/// </summary>
public sealed record EngineOptions
{
    /// <summary>Use the pooling instance allocator (pre-reserved slots; fast per-request instantiation).</summary>
    public bool Pooling { get; init; }

    /// <summary>Pooling: most core instances alive at once across all stores (wasmtime default 1000).</summary>
    public uint TotalCoreInstances { get; init; } = 1000;

    /// <summary>Pooling: most linear memories alive at once (null = wasmtime default, 1000).</summary>
    public uint? TotalMemories { get; init; }

    /// <summary>Pooling: most tables alive at once (null = wasmtime default, 1000).</summary>
    public uint? TotalTables { get; init; }

    /// <summary>
    /// Pooling: most async fiber stacks alive at once. Every running call or instantiation holds one, and a
    /// host function calling back into wasm (<see cref="HostCaller.Call"/>, e.g. cabi_realloc) holds a second
    /// one for the nested call. Null = 2 × <see cref="TotalCoreInstances"/>.
    /// </summary>
    public uint? TotalStacks { get; init; }

    /// <summary>Pooling: largest size in bytes a linear memory may reach (null = wasmtime default, 4 GiB).</summary>
    public ulong? MaxMemorySize { get; init; }

    /// <summary>Pooling: largest instance metadata size in bytes (null = wasmtime default).</summary>
    public ulong? MaxCoreInstanceSize { get; init; }

    /// <summary>Pooling: most memories a single module may define (null = wasmtime default, 1).</summary>
    public uint? MaxMemoriesPerModule { get; init; }

    /// <summary>Pooling: most tables a single module may define (null = wasmtime default, 1).</summary>
    public uint? MaxTablesPerModule { get; init; }

    /// <summary>Pooling: most elements in one table (null = wasmtime default, 20000).</summary>
    public ulong? TableElements { get; init; }

    /// <summary>
    /// Pooling: bytes of each freed linear memory kept resident and zeroed with memset instead of madvise.
    /// Small values help small modules scale across cores; large ones slow big modules down (see the notes).
    /// </summary>
    public ulong LinearMemoryKeepResident { get; init; }

    /// <summary>Pooling: bytes of each freed table kept resident (see <see cref="LinearMemoryKeepResident"/>).</summary>
    public ulong TableKeepResident { get; init; }

    /// <summary>
    /// Pooling: most freed slots that keep their module's memory image and resident pages for the next instance
    /// of that module (null = wasmtime default, 100). Beyond it the least recently used become cold and are
    /// mapped afresh on their next use.
    /// </summary>
    public uint? MaxUnusedWarmSlots { get; init; }

    /// <summary>
    /// Pre-fault the pages a large guest memory is known to write before each export call (see
    /// <see cref="MemoryWarmup"/>). On by default; only takes effect on Linux.
    /// </summary>
    public bool WarmUpMemories { get; init; } = true;

    /// <summary>How often the engine's ticker thread increments the epoch.</summary>
    public TimeSpan EpochTickInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Size in bytes of each async fiber stack (wasm stack plus room for host code). Default 2 MiB.</summary>
    public ulong AsyncStackSize { get; init; } = 2 * 1024 * 1024;

    /// <summary>Most bytes of stack wasm may use before a stack-overflow trap. Default 512 KiB. Must be below <see cref="AsyncStackSize"/>.</summary>
    public ulong MaxWasmStack { get; init; } = 512 * 1024;

    /// <summary>
    /// On-demand engines (Pooling off): most fiber stacks alive at once (each call/instantiation in flight holds
    /// one, a nested host-to-guest call another). Address space is reserved up front (NORESERVE), memory is
    /// committed as stacks are used, and freed stacks are reused. Default 4096.
    /// </summary>
    public int MaxFiberStacks { get; init; } = 4096;

    /// <summary>Directory for <see cref="ArtifactCache"/> (null = <see cref="ArtifactCache.DefaultDirectory"/>).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Whether <see cref="ArtifactCache"/> reads and writes compiled artifacts (on by default); off, every load compiles.</summary>
    public bool UseArtifactCache { get; init; } = true;

    /// <summary>
    /// Largest size in bytes any linear memory of a store may grow to (Spin's <c>--max-instance-memory</c>): a
    /// <c>memory.grow</c> past it fails (returns -1) in the guest, nothing else happens. Null: no limit beyond the
    /// engine's own.
    /// </summary>
    public long? StoreMemoryLimit { get; init; }

    /// <summary>Compile functions in parallel (on by default).</summary>
    public bool ParallelCompilation { get; init; } = true;
}
