using Spindle.Trigger.Http.Server;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors;

/// <summary>
/// A second, small pooling engine whose freed linear memories stay resident: a slot is reset with one
/// <c>memcpy</c>/<c>memset</c> of the whole memory instead of <c>madvise</c> and fresh page faults on the next
/// request. On a machine where page faults are dear (a virtual machine with shadow page tables: 10–14 µs per
/// fault, measured) that makes a 10 MB JavaScript request 3× cheaper, but every slot that was ever used keeps
/// its whole memory resident, and a slot's first reset faults every page in. So the lane has few slots (the
/// working set of a busy server, not its peak): a wasi:http request takes a hot slot when one is free and
/// otherwise runs on the main engine, whose large pool keeps little resident (1,000 concurrent requests must
/// not mean 1,000 × 10 MB resident, nor a 30 s fault storm). Admission control still counts every request
/// against the main pool, so a request never waits for the lane and neither pool can run dry.
/// bench/README.md has the figures.
/// </summary>
public sealed class HotLane : IDisposable
{
    private int _free;
    private long _served;

    /// <summary>Creates a lane over <paramref name="engine"/>, taking ownership of it.</summary>
    public HotLane(WasmEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Engine = engine;
        Capacity = RequestAdmission.PoolCapacity(engine.Options);
        _free = Capacity;
    }

    /// <summary>The lane's engine: components are loaded into it a second time.</summary>
    public WasmEngine Engine { get; }

    /// <summary>Core instances the lane's pool holds for concurrent requests.</summary>
    public int Capacity { get; }

    /// <summary>Takes room for a request of <paramref name="coreInstances"/> core instances, if the lane has it.</summary>
    public bool TryEnter(int coreInstances)
    {
        var free = Volatile.Read(ref _free);
        while (free >= coreInstances)
        {
            var seen = Interlocked.CompareExchange(ref _free, free - coreInstances, free);
            if (seen == free)
            {
                Interlocked.Increment(ref _served);
                return true;
            }
            free = seen;
        }
        return false;
    }

    /// <summary>Requests that ran on the lane so far.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Gives back what <see cref="TryEnter"/> took, once the request's store is gone.</summary>
    public void Exit(int coreInstances) => Interlocked.Add(ref _free, coreInstances);

    /// <inheritdoc />
    public void Dispose() => Engine.Dispose();
}
