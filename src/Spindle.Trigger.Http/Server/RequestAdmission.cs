using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Spindle.Trigger.Http.Executors;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Server;

/// <summary>How requests wait when the engine's instance pool is full.</summary>
public sealed class AdmissionOptions
{
    /// <summary>Most requests of one application waiting for pool room at once; beyond it a request gets 503 at once. Default 1000.</summary>
    public int QueueLimit { get; init; } = 1000;

    /// <summary>Longest a request waits for pool room before it gets 503. Default 5 s.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The <c>Retry-After</c> value (seconds) sent with a 503. Default 1.</summary>
    public int RetryAfterSeconds { get; init; } = 1;
}

/// <summary>
/// Admission control in front of the engine. Wasmtime's pooling allocator fails the instantiation that exceeds
/// its caps, which would surface as a 500; instead each request of an <see cref="IPooledExecutor"/> first takes
/// as many permits as it needs core instances from a weighted limiter sized to the engine's pool, waits in a
/// bounded FIFO queue when there is no room, and is refused with 503 + <c>Retry-After</c> when the queue is
/// full or the wait times out. The limiter is per engine (the pool is), shared by every application on it;
/// the queue bound and timeout are per application.
/// </summary>
internal sealed class RequestAdmission(AdmissionOptions options)
{
    private static readonly ConditionalWeakTable<WasmEngine, ConcurrencyLimiter> Limiters = new();

    private int _queued;

    public AdmissionOptions Options { get; } = options;

    /// <summary>The <c>Retry-After</c> header value, formatted once.</summary>
    public string RetryAfterHeader { get; } = Math.Max(0, options.RetryAfterSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Waits for pool room for one request of <paramref name="executor"/>. Returns the lease to dispose when
    /// the request's store is gone, or null when the request must be refused (queue full, wait timed out, or
    /// <paramref name="aborted"/> fired).
    /// </summary>
    public async ValueTask<RateLimitLease?> EnterAsync(IPooledExecutor executor, CancellationToken aborted)
    {
        var limiter = LimiterFor(executor.Engine);
        var permits = Math.Max(1, executor.CoreInstancesPerRequest);
        // Fast path without a timer: AttemptAcquire never jumps ahead of queued requests.
        var lease = limiter.AttemptAcquire(permits);
        if (lease.IsAcquired) return lease;
        lease.Dispose();

        if (Interlocked.Increment(ref _queued) > Options.QueueLimit)
        {
            Interlocked.Decrement(ref _queued);
            return null;
        }
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        wait.CancelAfter(Options.QueueTimeout);
        try
        {
            lease = await limiter.AcquireAsync(permits, wait.Token).ConfigureAwait(false);
            if (lease.IsAcquired) return lease;
            lease.Dispose();
            return null;
        }
        catch (OperationCanceledException) when (wait.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }
    }

    /// <summary>Core instances an engine's pool can hold for concurrent requests (see <see cref="PoolCapacity"/>).</summary>
    public static int CapacityOf(WasmEngine engine) => PoolCapacity(engine.Options);

    private static ConcurrencyLimiter LimiterFor(WasmEngine engine) =>
        Limiters.GetValue(engine, e => new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = PoolCapacity(e.Options),
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            QueueLimit = int.MaxValue, // bounded per application by AdmissionOptions.QueueLimit
        }));

    /// <summary>
    /// Core instances that may be alive at once without any pool running dry. Requests are weighted by their
    /// core instance count (at least 1) and each holds at most two fiber stacks (instantiate or call, plus a
    /// nested call such as cabi_realloc) and at most one memory and one table per core instance and per allowed
    /// memory/table of a module, so the capacity is the smallest of: total core instances; total memories (or
    /// tables) divided by the per-module maximum; half the stacks. On-demand engines have no instance pool,
    /// only <see cref="EngineOptions.MaxFiberStacks"/>.
    /// </summary>
    public static int PoolCapacity(EngineOptions o)
    {
        const uint WasmtimeDefault = 1000;
        if (!o.Pooling) return Math.Max(1, o.MaxFiberStacks / 2);
        ulong capacity = o.TotalCoreInstances;
        capacity = Math.Min(capacity, (o.TotalMemories ?? WasmtimeDefault) / Math.Max(1u, o.MaxMemoriesPerModule ?? 1));
        capacity = Math.Min(capacity, (o.TotalTables ?? WasmtimeDefault) / Math.Max(1u, o.MaxTablesPerModule ?? 1));
        capacity = Math.Min(capacity, (o.TotalStacks ?? 2UL * o.TotalCoreInstances) / 2);
        return (int)Math.Clamp(capacity, 1, int.MaxValue);
    }
}
