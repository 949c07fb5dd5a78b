using System.Collections.Concurrent;
using Spindle.Components.Runtime;
using Spindle.Wasmtime;

namespace Spindle.Engine;

/// <summary>
/// A second, small pooling engine whose instances outlive their request: after a request whose guest returned
/// normally, the instance is put back into its just-instantiated state (<see cref="ComponentInstance.TryReset"/>:
/// the memory pages the guest wrote are copied back from a snapshot, globals restored, handles dropped) and
/// serves the next request of the same component. That skips instantiation, linking and the pooling allocator's
/// reset of a whole 10 MB JavaScript image, which on a VM with shadow page tables (10–15 µs per page fault) was
/// most of a request's cost. A guest that trapped, timed out or grew its memory is discarded, never reused; its
/// slot's memory stays resident (keep-resident), so the pool resets it with one copy for the next instance.
/// Components whose instances cannot be reset (<see cref="Component.ResetBlocker"/>) get a fresh instance per
/// request on the lane, as every request did before warm instances; so does every component when instance reuse is
/// off (<c>--instance-reuse off</c>: components are then loaded without the reset exports, see Spindle.Trigger.Http's executor factories).
/// A wasi:http request takes a warm instance of its component, or room for a new one (evicting an idle instance of
/// another component when the lane is full); instances are created <see cref="MaxConcurrentCreations"/> at a time,
/// and those that stayed idle through a whole trim interval are disposed. Admission control counts requests
/// against the (last) lane a component runs on, so a request always finds room on it; the main engine serves what
/// no lane has room for (chained callees, which are not admitted) with a fresh instance. bench/README.md has the
/// figures.
/// </summary>
public sealed class HotLane : IDisposable
{
    private readonly ConcurrentBag<WarmInstances> _components = [];
    private readonly SemaphoreSlim _creating;
    private readonly Timer? _trimmer;
    private int _free;
    private long _served;

    /// <summary>
    /// Creates a lane over <paramref name="engine"/>, taking ownership of it. Every <paramref name="trimInterval"/>
    /// (default 10 s; <see cref="Timeout.InfiniteTimeSpan"/>: never), each component's instances that stayed idle
    /// through the whole interval are disposed, so the memory a burst of requests took is returned after it.
    /// </summary>
    public HotLane(WasmEngine engine, TimeSpan? trimInterval = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Engine = engine;
        Capacity = PoolCapacity.Of(engine.Options);
        _free = Capacity;
        _creating = new SemaphoreSlim(MaxConcurrentCreations);
        var interval = trimInterval ?? TimeSpan.FromSeconds(10);
        if (interval != Timeout.InfiniteTimeSpan) _trimmer = new Timer(_ => Trim(), null, interval, interval);
    }

    // Instances being created at once. A thousand requests arriving together would otherwise instantiate a thousand
    // JavaScript engines side by side, sharing the cores slice by slice, so that none is ready before all are
    // (seconds; bench/README.md, js-fetch-wait-1000). In turn, each is ready in milliseconds and serves the requests
    // queued behind it; a request that finds an instance returned while it waited takes that one instead.
    private static readonly int MaxConcurrentCreations = Math.Max(2, Environment.ProcessorCount);

    /// <summary>Disposes, per component, the instances that stayed idle since the previous call (the low-water mark of its idle count).</summary>
    public void Trim()
    {
        foreach (var component in _components) component.Trim();
    }

    /// <summary>The lane's engine: components are loaded into it a second time.</summary>
    public WasmEngine Engine { get; }

    /// <summary>Core instances the lane's pool holds, warm or busy.</summary>
    public int Capacity { get; }

    /// <summary>Requests that ran on the lane so far.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Instances reset and reused so far.</summary>
    public long Reused => Interlocked.Read(ref _reused);
    private long _reused;

    /// <summary>
    /// Takes room for an instance of <paramref name="coreInstances"/> core instances. When the lane is full,
    /// evicts an idle instance (of any component) and tries once more.
    /// </summary>
    private bool TryEnter(int coreInstances)
    {
        if (TryTake(coreInstances)) return true;
        foreach (var component in _components)
            if (component.EvictOne() && TryTake(coreInstances)) return true;
        return false;
    }

    private bool MightHaveRoom(int coreInstances)
    {
        if (Volatile.Read(ref _free) >= coreInstances) return true;
        foreach (var component in _components)
            if (component.Idle > 0) return true;
        return false;
    }

    private bool TryTake(int coreInstances)
    {
        var free = Volatile.Read(ref _free);
        while (free >= coreInstances)
        {
            var seen = Interlocked.CompareExchange(ref _free, free - coreInstances, free);
            if (seen == free) return true;
            free = seen;
        }
        return false;
    }

    private void Exit(int coreInstances) => Interlocked.Add(ref _free, coreInstances);

    /// <summary>Creates the pool of warm instances of one component on this lane.</summary>
    public WarmInstances Register(Component component)
    {
        var pool = new WarmInstances(this, component);
        _components.Add(pool);
        return pool;
    }

    /// <summary>Disposes the idle instances, then the engine.</summary>
    public void Dispose()
    {
        _trimmer?.Dispose();
        foreach (var component in _components)
            while (component.EvictOne()) { }
        Engine.Dispose();
        _creating.Dispose();
    }

    /// <summary>One component's instances on the lane: idle ones, ready for their next request.</summary>
    public sealed class WarmInstances
    {
        private readonly HotLane _lane;
        private readonly ConcurrentBag<WarmInstance> _idle = [];
        private readonly int _weight;
        // Idle instances now, and the fewest there were since the last trim: that many were never needed.
        private int _idleCount, _idleLowWater;

        internal WarmInstances(HotLane lane, Component component)
        {
            _lane = lane;
            Component = component;
            _weight = Math.Max(1, component.CoreInstanceCount);
        }

        /// <summary>The component, loaded into the lane's engine.</summary>
        public Component Component { get; }

        /// <summary>Requests of this component that ran on the lane so far.</summary>
        public long Served => Interlocked.Read(ref _served);

        /// <summary>Requests of this component served by an instance reset after an earlier request.</summary>
        public long Reused => Interlocked.Read(ref _reused);

        private long _served, _reused;

        /// <summary>Instances of this component waiting for their next request.</summary>
        public int Idle => Volatile.Read(ref _idleCount);

        /// <summary>
        /// An idle instance (already reset), or room for a new one (<see cref="WarmInstance.Instance"/> null: the
        /// request creates it on <see cref="HotLane.Engine"/> and calls <see cref="WarmInstance.Created"/>), or null
        /// when the lane is full. Creating waits its turn behind the instances already being created on the lane
        /// (an instance returned meanwhile is taken instead).
        /// </summary>
        public async ValueTask<WarmInstance?> RentAsync(CancellationToken cancellation)
        {
            if (TakeIdle() is { } warm) return warm;
            if (!_lane.MightHaveRoom(_weight)) return null; // full of busy instances: no turn to wait for
            await _lane._creating.WaitAsync(cancellation).ConfigureAwait(false);
            var created = false;
            try
            {
                if (TakeIdle() is { } returned) return returned;
                if (!_lane.TryEnter(_weight)) return null;
                Interlocked.Increment(ref _lane._served);
                Interlocked.Increment(ref _served);
                created = true;
                return new WarmInstance(this, holdsCreationTurn: true);
            }
            finally
            {
                if (!created) _lane._creating.Release();
            }
        }

        private WarmInstance? TakeIdle()
        {
            if (!_idle.TryTake(out var warm)) return null;
            TookIdle();
            Interlocked.Increment(ref _lane._served);
            Interlocked.Increment(ref _lane._reused);
            Interlocked.Increment(ref _served);
            Interlocked.Increment(ref _reused);
            return warm;
        }

        private void TookIdle()
        {
            var now = Interlocked.Decrement(ref _idleCount);
            var low = Volatile.Read(ref _idleLowWater);
            while (now < low)
            {
                var seen = Interlocked.CompareExchange(ref _idleLowWater, now, low);
                if (seen == low) break;
                low = seen;
            }
        }

        internal void Return(WarmInstance warm)
        {
            _idle.Add(warm);
            Interlocked.Increment(ref _idleCount);
        }

        internal void EndCreation() => _lane._creating.Release();

        internal void Trim()
        {
            var unused = Interlocked.Exchange(ref _idleLowWater, Volatile.Read(ref _idleCount));
            for (var i = 0; i < unused && EvictOne(); i++) { }
        }

        // Instances of a component whose every request grows its memory (or traps) are discarded after one
        // request, so the snapshot comparison each one starts with is wasted (1–3 ms for a 10 MB JavaScript
        // memory). After a few in a row, new instances skip it and serve one request, fresh; one in every
        // ProbeInterval still tries, and a reset that works ends the streak.
        private const int ShortLivedLimit = 4, ProbeInterval = 32;
        private int _shortLived, _created;

        internal bool ShouldCapture() =>
            Volatile.Read(ref _shortLived) < ShortLivedLimit || Interlocked.Increment(ref _created) % ProbeInterval == 0;

        internal void Outcome(bool reset)
        {
            if (reset) Volatile.Write(ref _shortLived, 0);
            else Interlocked.Increment(ref _shortLived);
        }

        internal void Release() => _lane.Exit(_weight);

        internal bool EvictOne()
        {
            if (!_idle.TryTake(out var warm)) return false;
            TookIdle();
            warm.Discard();
            return true;
        }
    }

    /// <summary>A store and component instance that serve one request after another.</summary>
    public sealed class WarmInstance
    {
        private readonly WarmInstances _owner;
        private bool _holdsCreationTurn;

        internal WarmInstance(WarmInstances owner, bool holdsCreationTurn)
        {
            _owner = owner;
            _holdsCreationTurn = holdsCreationTurn;
        }

        /// <summary>The store (null until the first request creates it).</summary>
        public WasmStore? Store { get; private set; }

        /// <summary>The instance (null until the first request creates it).</summary>
        public ComponentInstance? Instance { get; private set; }

        /// <summary>Records the store a first request created for this instance (disposed with it).</summary>
        public void Begin(WasmStore store) => Store = store;

        /// <summary>
        /// Records the instance the first request created, and its state to return to after each request (when
        /// the component's instances can be reset at all: otherwise it serves this one request, fresh).
        /// </summary>
        public void Created(ComponentInstance instance)
        {
            Instance = instance;
            try { _resettable = instance.Component.ResetBlocker is null && _owner.ShouldCapture() && instance.CaptureResetPoint(); }
            finally { EndCreation(); }
        }

        private void EndCreation()
        {
            if (!_holdsCreationTurn) return;
            _holdsCreationTurn = false;
            _owner.EndCreation();
        }

        private bool _resettable, _reusedOnce;

        /// <summary>
        /// After a request: resets the instance and makes it available to the next one when
        /// <paramref name="reusable"/> (the guest returned normally) and the reset succeeds; otherwise discards it.
        /// </summary>
        public void Finish(bool reusable)
        {
            var reset = reusable && _resettable && Instance!.TryReset();
            // Whether an instance with a reset point lived past its first request. Only a guest that returned
            // counts: one cancelled because its client left (a load generator stopping drops a thousand at once)
            // says nothing about whether the component's instances can be reset.
            if (reusable && _resettable && !_reusedOnce) _owner.Outcome(reset);
            if (reset)
            {
                _reusedOnce = true;
                _owner.Return(this);
            }
            else Discard();
        }

        internal void Discard()
        {
            EndCreation(); // instantiation failed
            Instance?.Dispose();
            Store?.Dispose();
            Instance = null;
            Store = null;
            _owner.Release();
        }
    }
}
