using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Spindle.Engine;
using Spindle.Trigger.Http.Executors;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Server;

/// <summary>How requests wait when their component cannot run them at once.</summary>
public sealed class AdmissionOptions
{
    /// <summary>Most requests of one component waiting at once; beyond it a request gets 503 at once. Default 1000.</summary>
    public int QueueLimit { get; init; } = 1000;

    /// <summary>Longest a request waits before it gets 503 (also bounded by the request timeout). Default 5 s.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The <c>Retry-After</c> value (seconds) sent with a 503. Default 1.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>
    /// Most guests of one component running at once: executing or runnable, not parked on I/O (a guest waiting on
    /// an outbound request or a timer does not count). Default 4 per core (8 on 2 cores): enough to keep every
    /// core busy with one component's requests, few enough that a CPU-bound flood queues (and is refused in time)
    /// instead of slicing the cores among thousands of guests, none of which then finishes.
    /// </summary>
    public int RunningPerComponent { get; init; } = 4 * Environment.ProcessorCount;
}

/// <summary>
/// Admission control in front of the engine, per application. A request runs only when (1) the engine's instance
/// pool has room for it (Wasmtime's pooling allocator would fail the instantiation that exceeds its caps, a 500),
/// counted in core instances, and (2) its component has fewer than <see cref="AdmissionOptions.RunningPerComponent"/>
/// guests running (the cores are the other bottleneck; guests parked on I/O do not count). Otherwise it waits in its
/// component's FIFO queue, and is refused with 503 + <c>Retry-After</c> when that queue is full or the wait outlasts
/// the queue timeout or the request's deadline. Room that frees up goes to the waiting component with the fewest
/// instances in use: one component flooded with requests cannot take the turn of a quiet one.
/// </summary>
internal sealed class RequestAdmission(AdmissionOptions options)
{
    // The pool is per engine, shared by every application on it.
    private static readonly ConditionalWeakTable<WasmEngine, EnginePool> Pools = new();
    private readonly ConcurrentDictionary<IPooledExecutor, ComponentShare> _shares = new(ReferenceEqualityComparer.Instance);

    public AdmissionOptions Options { get; } = options;

    /// <summary>Core instances held by admitted requests, over every engine's pool (the <c>spindle.pool.instances.in_use</c> metric).</summary>
    internal static int PoolInstancesInUse()
    {
        var sum = 0;
        foreach (var (_, pool) in Pools) sum += pool.InUse;
        return sum;
    }

    /// <summary>The size of every engine's pool, in core instances (<c>spindle.pool.instances.capacity</c>).</summary>
    internal static int PoolInstancesCapacity()
    {
        var sum = 0;
        foreach (var (_, pool) in Pools) sum += pool.Capacity;
        return sum;
    }

    /// <summary>The <c>Retry-After</c> header value, formatted once.</summary>
    public string RetryAfterHeader { get; } = Math.Max(0, options.RetryAfterSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Waits for room for one request of <paramref name="executor"/>. Returns the admission to dispose once the
    /// request's store is gone (and to give the store as its <see cref="IGuestWaitObserver"/>), or null when the
    /// request must be refused: queue full, queue timeout, <paramref name="deadline"/> passed or the client gone.
    /// </summary>
    public ValueTask<Admission?> EnterAsync(IPooledExecutor executor, CancellationToken deadline, CancellationToken clientGone)
    {
        var pool = Pools.GetValue(executor.Engine, e => new EnginePool(PoolCapacity.Of(e.Options)));
        var share = _shares.GetOrAdd(executor, static (_, limit) => new ComponentShare(Math.Max(1, limit)), Options.RunningPerComponent);
        return pool.EnterAsync(share, Math.Max(1, executor.CoreInstancesPerRequest), Options, deadline, clientGone);
    }

    /// <summary>One component's use of the pool (guarded by its pool's lock).</summary>
    internal sealed class ComponentShare(int runningLimit)
    {
        public readonly int RunningLimit = runningLimit;
        public readonly LinkedList<Waiter> Queue = new();
        public int InUse;   // core instances held by its admitted requests
        public int Running; // its admitted guests not parked on I/O
    }

    internal sealed class Waiter(int permits)
    {
        public readonly int Permits = permits;
        public readonly TaskCompletionSource<Admission?> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public LinkedListNode<Waiter>? Node;
    }

    /// <summary>An engine's pool of core instances and the components waiting for it.</summary>
    internal sealed class EnginePool(int capacity)
    {
        private readonly Lock _lock = new();
        private readonly List<ComponentShare> _waiting = []; // components with a non-empty queue
        private int _free = capacity;

        public int Capacity { get; } = capacity;

        public int InUse => Capacity - Volatile.Read(ref _free);

        public async ValueTask<Admission?> EnterAsync(ComponentShare share, int permits, AdmissionOptions options,
            CancellationToken deadline, CancellationToken clientGone)
        {
            var waiter = new Waiter(permits);
            lock (_lock)
            {
                // At once when nothing of this component waits ahead of it (FIFO within a component).
                if (share.Queue.Count == 0 && _free >= permits && share.Running < share.RunningLimit)
                    return Grant(share, permits);
                if (share.Queue.Count >= options.QueueLimit) return null;
                waiter.Node = share.Queue.AddLast(waiter);
                if (share.Queue.Count == 1) _waiting.Add(share);
            }
            using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(deadline, clientGone);
            giveUp.CancelAfter(options.QueueTimeout);
            using var registration = giveUp.Token.UnsafeRegister(_ => Abandon(share, waiter), null);
            return await waiter.Done.Task.ConfigureAwait(false);
        }

        // The wait ended without room: leave the queue, unless a grant won the race (then the request runs).
        private void Abandon(ComponentShare share, Waiter waiter)
        {
            lock (_lock)
            {
                if (waiter.Node is null) return; // granted
                share.Queue.Remove(waiter.Node);
                waiter.Node = null;
                if (share.Queue.Count == 0) _waiting.Remove(share);
            }
            waiter.Done.TrySetResult(null);
            Pump(); // its head may have blocked smaller requests behind it
        }

        private Admission Grant(ComponentShare share, int permits)
        {
            _free -= permits;
            share.InUse += permits;
            share.Running++;
            return new Admission(this, share, permits);
        }

        // Hands freed room to waiters: each time to the waiting component with the fewest instances in use whose
        // head fits and which may run another guest.
        private void Pump()
        {
            List<(Waiter, Admission)>? granted = null;
            lock (_lock)
            {
                while (_waiting.Count > 0)
                {
                    ComponentShare? next = null;
                    foreach (var share in _waiting)
                        if (share.Running < share.RunningLimit && share.Queue.First!.Value.Permits <= _free
                            && (next is null || share.InUse < next.InUse))
                            next = share;
                    if (next is null) break;
                    var waiter = next.Queue.First!.Value;
                    next.Queue.RemoveFirst();
                    waiter.Node = null;
                    if (next.Queue.Count == 0) _waiting.Remove(next);
                    (granted ??= []).Add((waiter, Grant(next, waiter.Permits)));
                }
            }
            if (granted is null) return;
            foreach (var (waiter, admission) in granted) waiter.Done.TrySetResult(admission);
        }

        public void Release(ComponentShare share, int permits, bool running)
        {
            lock (_lock)
            {
                _free += permits;
                share.InUse -= permits;
                if (running) share.Running--;
            }
            Pump();
        }

        public void Parked(ComponentShare share, bool parked)
        {
            lock (_lock) share.Running += parked ? -1 : 1;
            if (parked) Pump();
        }
    }

    /// <summary>
    /// One admitted request: its room in the pool until disposed, and (as the store's
    /// <see cref="IGuestWaitObserver"/>) whether its guest counts as running.
    /// </summary>
    internal sealed class Admission : IDisposable, IGuestWaitObserver
    {
        private readonly EnginePool _pool;
        private readonly ComponentShare _share;
        private readonly int _permits;
        private bool _parked;
        private int _disposed;

        internal Admission(EnginePool pool, ComponentShare share, int permits)
        {
            _pool = pool;
            _share = share;
            _permits = permits;
        }

        /// <inheritdoc />
        public void WaitStarted()
        {
            _parked = true;
            _pool.Parked(_share, parked: true);
        }

        /// <inheritdoc />
        public void WaitEnded()
        {
            _parked = false;
            _pool.Parked(_share, parked: false);
        }

        /// <summary>Gives the room back (once); call after the request's store is gone.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) _pool.Release(_share, _permits, running: !_parked);
        }
    }
}
