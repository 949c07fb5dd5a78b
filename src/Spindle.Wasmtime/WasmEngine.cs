using System.Globalization;
using System.Runtime.InteropServices;
using Spindle.Wasmtime.Interop;

namespace Spindle.Wasmtime;

/// <summary>
/// A Wasmtime engine (compiler + allocator settings) with epoch interruption on and one ticker thread that
/// increments the epoch every <see cref="EngineOptions.EpochTickInterval"/>. Thread-safe. Modules, linkers
/// and stores created from it keep working after it is disposed only until their own disposal; dispose the
/// engine last (disposing stops the ticker, so deadlines stop advancing).
/// </summary>
public sealed class WasmEngine : IDisposable
{
    /// <summary>The Wasmtime version this layer was written and measured against.</summary>
    public const string WasmtimeVersion = "50.0.1";

    private readonly EngineHandle _handle;
    private readonly Thread _ticker;
    // No spinning before each wait: the ticker waits the whole interval every time, and a spinning wait (the default)
    // costs about 2% of a core on two cores (sched_yield per tick, measured with perf).
    private readonly ManualResetEventSlim _stop = new(false, spinCount: 0);
    private int _disposed;

    /// <summary>Creates an engine from <paramref name="options"/> (defaults when null).</summary>
    public WasmEngine(EngineOptions? options = null)
    {
        Options = options ?? new EngineOptions();
        if (Options.EpochTickInterval <= TimeSpan.Zero)
            throw new ArgumentException("EpochTickInterval must be positive", nameof(options));
        if (Options.MaxWasmStack >= Options.AsyncStackSize)
            throw new ArgumentException($"MaxWasmStack ({Options.MaxWasmStack}) must be below AsyncStackSize ({Options.AsyncStackSize})", nameof(options));

        var config = Native.wasm_config_new();
        Native.wasmtime_config_epoch_interruption_set(config, 1);
        Native.wasmtime_config_max_wasm_stack_set(config, (nuint)Options.MaxWasmStack);
        Native.wasmtime_config_async_stack_size_set(config, (nuint)Options.AsyncStackSize);
        Native.wasmtime_config_parallel_compilation_set(config, Options.ParallelCompilation ? (byte)1 : (byte)0);
        IntPtr engine;
        if (Options.Pooling)
        {
            ApplyPooling(config, Options);
            // Pools are reserved now; keep them below the stacks of threads created later (see FiberStackAllocator).
            // One engine at a time: a poller thread started while another engine's filler holds the high gaps
            // would get a stack below the pools it must poll for (seen with engines created in parallel).
            lock (AddressSpaceFiller.Gate)
            {
                engine = AddressSpaceFiller.While(() => Native.wasm_engine_new_with_config(config), out var poolsTop, (nuint)Options.AsyncStackSize);
                if (poolsTop != 0) Router = new PollRouter(poolsTop);
            }
        }
        else
        {
            FiberStackAllocator.TryCreate((nuint)Options.AsyncStackSize, Options.MaxFiberStacks)?.Install(config);
            engine = Native.wasm_engine_new_with_config(config); // takes ownership of config
        }
        if (engine == IntPtr.Zero) throw new WasmtimeException("wasm_engine_new_with_config failed (invalid engine settings)");
        _handle = new EngineHandle(engine);
        Fingerprint = ComputeFingerprint(Options);

        _ticker = new Thread(Tick) { IsBackground = true, Name = "spindle-epoch-ticker" };
        _ticker.Start();
    }

    /// <summary>Pooling engines: moves polls off threads whose stacks lie below the engine's fiber stacks.</summary>
    internal PollRouter? Router { get; set; }

    /// <summary>The options the engine was built from.</summary>
    public EngineOptions Options { get; }

    /// <summary>
    /// Wasmtime version plus every setting that affects compiled code. Part of the artifact cache key, so a
    /// setting change never feeds an incompatible artifact to <c>DeserializeFile</c>.
    /// </summary>
    public string Fingerprint { get; }

    internal IntPtr Handle => _handle.Ptr;

    /// <summary>Epoch ticks to give a store so that its guest may run for at least <paramref name="duration"/>.</summary>
    public ulong ExecutionTicksFor(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero) return 1;
        var ticks = Math.Ceiling(duration.Ticks / (double)Options.EpochTickInterval.Ticks);
        // +1: the current tick is already partly elapsed when the deadline is set.
        return (ulong)Math.Min(ticks + 1, ulong.MaxValue / 4);
    }

    /// <summary>Increments the epoch once (the ticker does this periodically; tests may call it directly).</summary>
    public void IncrementEpoch() => Native.wasmtime_engine_increment_epoch(Handle);

    private void Tick()
    {
        var interval = Options.EpochTickInterval;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            var engine = _handle.DangerousGetHandle();
            while (!_stop.Wait(interval))
                Native.wasmtime_engine_increment_epoch(engine);
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    private static void ApplyPooling(IntPtr config, EngineOptions o)
    {
        var pc = Native.wasmtime_pooling_allocation_config_new();
        try
        {
            Native.wasmtime_pooling_allocation_config_total_core_instances_set(pc, o.TotalCoreInstances);
            if (o.TotalMemories is { } m) Native.wasmtime_pooling_allocation_config_total_memories_set(pc, m);
            if (o.TotalTables is { } t) Native.wasmtime_pooling_allocation_config_total_tables_set(pc, t);
            var stacks = o.TotalStacks ?? (uint)Math.Min(2UL * o.TotalCoreInstances, uint.MaxValue);
            Native.wasmtime_pooling_allocation_config_total_stacks_set(pc, stacks);
            if (o.MaxMemorySize is { } ms) Native.wasmtime_pooling_allocation_config_max_memory_size_set(pc, (nuint)ms);
            if (o.MaxCoreInstanceSize is { } ci) Native.wasmtime_pooling_allocation_config_max_core_instance_size_set(pc, (nuint)ci);
            if (o.MaxMemoriesPerModule is { } mm) Native.wasmtime_pooling_allocation_config_max_memories_per_module_set(pc, mm);
            if (o.MaxTablesPerModule is { } mt) Native.wasmtime_pooling_allocation_config_max_tables_per_module_set(pc, mt);
            if (o.TableElements is { } te) Native.wasmtime_pooling_allocation_config_table_elements_set(pc, (nuint)te);
            Native.wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(pc, (nuint)o.LinearMemoryKeepResident);
            Native.wasmtime_pooling_allocation_config_table_keep_resident_set(pc, (nuint)o.TableKeepResident);
            if (o.MaxUnusedWarmSlots is { } w) Native.wasmtime_pooling_allocation_config_max_unused_warm_slots_set(pc, w);
            Native.wasmtime_pooling_allocation_strategy_set(config, pc); // copies the pooling config
        }
        finally
        {
            Native.wasmtime_pooling_allocation_config_delete(pc);
        }
    }

    private static string ComputeFingerprint(EngineOptions o)
    {
        // Compiled code depends on the Wasmtime build, target, epoch instrumentation, stack limit checks and
        // (through memory reservation/bounds-check elision) the allocation strategy and memory caps.
        // Pool counts, keep-resident sizes and tick interval do not change code and are left out.
        return string.Create(CultureInfo.InvariantCulture,
            $"wasmtime={WasmtimeVersion};arch={RuntimeInformation.ProcessArchitecture};os={RuntimeInformation.OSDescription.Split(' ')[0]};" +
            $"epoch=1;maxwasmstack={o.MaxWasmStack};asyncstack={o.AsyncStackSize};pooling={(o.Pooling ? 1 : 0)};" +
            $"maxmemory={(o.Pooling ? o.MaxMemorySize?.ToString(CultureInfo.InvariantCulture) ?? "default" : "-")}");
    }

    /// <summary>Stops the ticker thread and releases the engine.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Set();
        _ticker.Join();
        Router?.Dispose();
        _handle.Dispose();
        _stop.Dispose();
    }
}
