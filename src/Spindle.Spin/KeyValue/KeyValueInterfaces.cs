using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Spin;

namespace Spindle.Spin.KeyValue;

/// <summary>Store data that gives a guest its key-value stores.</summary>
public interface IKeyValueContext
{
    /// <summary>The stores the calling component may open, or null when the host has none.</summary>
    ComponentKeyValue? KeyValue { get; }
}

/// <summary>
/// The guest-facing key-value interfaces Spin serves: <c>fermyon:spin/key-value@2.0.0</c> (resource <c>store</c>) and
/// <c>wasi:keyvalue@0.2.0-draft2</c> (<c>store</c> with resource <c>bucket</c>, <c>atomics</c> with
/// <c>increment</c> and compare-and-swap, <c>batch</c>), with Spin's error cases: a label the component does not
/// list is <c>access-denied</c>, a backend failure <c>other(message)</c>, a missing key <c>ok(none)</c>.
/// <c>spin:key-value/key-value@3.0.0</c> is 2.0.0 with <c>async func</c>s (and <c>get-keys</c> as a stream), served by
/// the same code.
/// </summary>
public static class KeyValueInterfaces
{
    /// <summary>Spin 2.0's error variant: <c>store-table-full</c>, <c>no-such-store</c>, <c>access-denied</c>, <c>other(string)</c>.</summary>
    public static VariantType SpinErrorType { get; } = T.Variant(("store-table-full", null), ("no-such-store", null), ("access-denied", null), ("other", T.String));

    /// <summary>wasi:keyvalue's error variant: <c>no-such-store</c>, <c>access-denied</c>, <c>other(string)</c>.</summary>
    public static VariantType WasiErrorType { get; } = T.Variant(("no-such-store", null), ("access-denied", null), ("other", T.String));

    private static readonly ListType Bytes = T.List(T.U8);

    /// <summary>Adds every key-value interface to <paramref name="registry"/>.</summary>
    public static HostRegistry AddTo(HostRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.Add(SpinKeyValue("fermyon:spin/key-value", "2.0.0", isAsync: false));
        registry.Add(SpinKeyValue("spin:key-value/key-value", "3.0.0", isAsync: true));
        var (store, atomics, batch) = WasiKeyValue();
        registry.Add(store);
        registry.Add(atomics);
        registry.Add(batch);
        return registry;
    }

    /// <summary>An open store as the guest holds it (the resource's host object).</summary>
    private sealed class OpenStore(IKeyValueStore store)
    {
        public IKeyValueStore Store { get; } = store;
    }

    /// <summary>A compare-and-swap handle: the key and, once <c>current</c> was called, the value read.</summary>
    private sealed class Swap(IKeyValueStore store, string key)
    {
        public IKeyValueStore Store { get; } = store;
        public string Key { get; } = key;
        public SwapExpectation Expected { get; set; } = SwapExpectation.Unconditional;
    }

    private enum SpinError { StoreTableFull = 0, NoSuchStore = 1, AccessDenied = 2, Other = 3 }

    private enum WasiError { NoSuchStore = 0, AccessDenied = 1, Other = 2 }

    /// <summary>
    /// <c>fermyon:spin/key-value@2.0.0</c>, or <c>spin:key-value/key-value@3.0.0</c> (<paramref name="isAsync"/>):
    /// the same resource, functions, errors and stores, the 3.0.0 functions typed <c>async func</c> (a guest may
    /// call them with <c>canon lower async</c>); 3.0.0's <c>get-keys</c> returns the keys as a
    /// <c>stream&lt;string&gt;</c> and the outcome as a <c>future&lt;result&lt;_, error&gt;&gt;</c>.
    /// </summary>
    private static HostInterface SpinKeyValue(string name, string version, bool isAsync)
    {
        var i = new HostInterface(name, version);
        FuncType Func((string, ValType)[] ps, ValType result) => isAsync ? T.AsyncFunc(ps, result) : T.Func(ps, result);
        var store = i.DefineResource("store");
        i.DefineType("error", SpinErrorType);
        var self = ("self", (ValType)T.Borrow(store));
        ResultValue Err(SpinError e, string? message = null) => ResultValue.Err(new VariantValue((int)e, message));

        i.DefineFunc("[static]store.open", Func([("label", T.String)], T.Result(T.Own(store), SpinErrorType)), (c, a) =>
            Open(c, (string)a[0]!) switch
            {
                (not null and var s, _) => ResultValue.Ok(new OpenStore(s)),
                (_, StateOpenError.AccessDenied) => Err(SpinError.AccessDenied),
                _ => Err(SpinError.NoSuchStore),
            });
        i.DefineAsyncFunc("[method]store.get", Func([self, ("key", T.String)], T.Result(T.Option(Bytes), SpinErrorType)),
            static (c, a) => Get(c, a, SpinFailed));
        i.DefineAsyncFunc("[method]store.set", Func([self, ("key", T.String), ("value", Bytes)], T.Result(null, SpinErrorType)),
            static (c, a) => Set(c, a, SpinFailed));
        i.DefineAsyncFunc("[method]store.delete", Func([self, ("key", T.String)], T.Result(null, SpinErrorType)),
            static (c, a) => Delete(c, a, SpinFailed));
        i.DefineAsyncFunc("[method]store.exists", Func([self, ("key", T.String)], T.Result(T.Bool, SpinErrorType)),
            static (c, a) => Exists(c, a, SpinFailed));
        if (!isAsync)
            i.DefineAsyncFunc("[method]store.get-keys", Func([self], T.Result(T.List(T.String), SpinErrorType)),
                (c, a) => Call(a, async s => ResultValue.Ok((await s.GetKeysAsync(c.Cancellation)).Cast<object?>().ToArray()), SpinFailed));
        else
            // The keys come as a stream and the outcome as a future; every key is known when the call returns, so the
            // stream is fully buffered. A backend failure is an empty stream and err(other) in the future.
            i.DefineAsyncFunc("[method]store.get-keys", Func([self], T.Tuple(T.Stream(T.String), T.Future(T.Result(null, SpinErrorType)))), async (c, a) =>
            {
                IReadOnlyList<string> keys;
                try { keys = await ((OpenStore)a[0]!).Store.GetKeysAsync(c.Cancellation).ConfigureAwait(false); }
                catch (KeyValueException e) { return new object?[] { new HostStream([]), new HostFuture(SpinFailed(e)) }; }
                return new object?[] { new HostStream(keys.Cast<object?>().ToArray()), new HostFuture(ResultValue.Ok()) };
            });
        return i;
    }

    private static (HostInterface Store, HostInterface Atomics, HostInterface Batch) WasiKeyValue()
    {
        const string Version = "0.2.0-draft2";
        ResultValue Err(WasiError e, string? message = null) => ResultValue.Err(new VariantValue((int)e, message));

        var s = new HostInterface("wasi:keyvalue/store", Version);
        var bucket = s.DefineResource("bucket");
        s.DefineType("error", WasiErrorType);
        var keyResponse = T.Record(("keys", T.List(T.String)), ("cursor", T.Option(T.String)));
        s.DefineType("key-response", keyResponse);
        var self = ("self", (ValType)T.Borrow(bucket));
        s.DefineFunc("open", T.Func([("identifier", T.String)], T.Result(T.Own(bucket), WasiErrorType)), (c, a) =>
            Open(c, (string)a[0]!) switch
            {
                (not null and var st, _) => ResultValue.Ok(new OpenStore(st)),
                (_, StateOpenError.AccessDenied) => Err(WasiError.AccessDenied),
                _ => Err(WasiError.NoSuchStore),
            });
        s.DefineAsyncFunc("[method]bucket.get", T.Func([self, ("key", T.String)], T.Result(T.Option(Bytes), WasiErrorType)),
            static (c, a) => Get(c, a, WasiFailed));
        s.DefineAsyncFunc("[method]bucket.set", T.Func([self, ("key", T.String), ("value", Bytes)], T.Result(null, WasiErrorType)),
            static (c, a) => Set(c, a, WasiFailed));
        s.DefineAsyncFunc("[method]bucket.delete", T.Func([self, ("key", T.String)], T.Result(null, WasiErrorType)),
            static (c, a) => Delete(c, a, WasiFailed));
        s.DefineAsyncFunc("[method]bucket.exists", T.Func([self, ("key", T.String)], T.Result(T.Bool, WasiErrorType)),
            static (c, a) => Exists(c, a, WasiFailed));
        s.DefineAsyncFunc("[method]bucket.list-keys", T.Func([self, ("cursor", T.Option(T.String))], T.Result(keyResponse, WasiErrorType)),
            (c, a) => a[1] is not null
                // Spin returns every key at once and never hands out a cursor.
                ? ValueTask.FromResult<object?>(Err(WasiError.Other, "list_keys: cursor not supported"))
                : Call(a, async st => ResultValue.Ok(new object?[] { (await st.GetKeysAsync(c.Cancellation)).Cast<object?>().ToArray(), null }), WasiFailed));

        var atomics = new HostInterface("wasi:keyvalue/atomics", Version);
        atomics.UseResource("bucket", bucket);
        atomics.DefineType("error", WasiErrorType);
        var cas = atomics.DefineResource("cas");
        var casError = T.Variant(("store-error", WasiErrorType), ("cas-failed", T.Own(cas)));
        atomics.DefineType("cas-error", casError);
        atomics.DefineFunc("[static]cas.new", T.Func([("bucket", T.Borrow(bucket)), ("key", T.String)], T.Result(T.Own(cas), WasiErrorType)),
            (_, a) => ResultValue.Ok(new Swap(((OpenStore)a[0]!).Store, (string)a[1]!)));
        atomics.DefineAsyncFunc("[method]cas.current", T.Func([("self", T.Borrow(cas))], T.Result(T.Option(Bytes), WasiErrorType)), async (c, a) =>
        {
            var swap = (Swap)a[0]!;
            try
            {
                var value = await swap.Store.GetAsync(swap.Key, c.Cancellation).ConfigureAwait(false);
                swap.Expected = new SwapExpectation(true, value);
                return ResultValue.Ok(value is null ? null : new Some(value));
            }
            catch (KeyValueException e)
            {
                return WasiFailed(e);
            }
        });
        atomics.DefineAsyncFunc("increment", T.Func([("bucket", T.Borrow(bucket)), ("key", T.String), ("delta", T.S64)], T.Result(T.S64, WasiErrorType)),
            (c, a) => Call(a, async st => ResultValue.Ok(await st.IncrementAsync((string)a[1]!, (long)a[2]!, c.Cancellation)), WasiFailed));
        atomics.DefineAsyncFunc("swap", T.Func([("cas", T.Own(cas)), ("value", Bytes)], T.Result(null, casError)), async (c, a) =>
        {
            var swap = (Swap)a[0]!;
            try
            {
                if (await swap.Store.SwapAsync(swap.Key, swap.Expected, (byte[])a[1]!, c.Cancellation).ConfigureAwait(false))
                    return ResultValue.Ok();
                // As in Spin: a fresh handle for the same key, already holding the current value, for the retry.
                var retry = new Swap(swap.Store, swap.Key);
                retry.Expected = new SwapExpectation(true, await swap.Store.GetAsync(swap.Key, c.Cancellation).ConfigureAwait(false));
                return ResultValue.Err(new VariantValue(1, retry));
            }
            catch (KeyValueException e)
            {
                return ResultValue.Err(new VariantValue(0, new VariantValue((int)WasiError.Other, e.Message)));
            }
        });

        var batch = new HostInterface("wasi:keyvalue/batch", Version);
        batch.UseResource("bucket", bucket);
        batch.DefineType("error", WasiErrorType);
        var keys = T.List(T.String);
        batch.DefineAsyncFunc("get-many", T.Func([("bucket", T.Borrow(bucket)), ("keys", keys)], T.Result(T.List(T.Tuple(T.String, T.Option(Bytes))), WasiErrorType)),
            (c, a) => Call(a, async st =>
            {
                var names = Strings(a[1]);
                var values = names.Count == 0 ? [] : await st.GetManyAsync(names, c.Cancellation);
                return ResultValue.Ok(names.Select((k, n) => (object?)new object?[] { k, values[n] is { } v ? new Some(v) : null }).ToArray());
            }, WasiFailed));
        batch.DefineAsyncFunc("set-many", T.Func([("bucket", T.Borrow(bucket)), ("key-values", T.List(T.Tuple(T.String, Bytes)))], T.Result(null, WasiErrorType)),
            (c, a) => Call(a, async st =>
            {
                var pairs = ((object?[])a[1]!).Select(p => (object?[])p!).Select(p => new KeyValuePair<string, byte[]>((string)p[0]!, (byte[])p[1]!)).ToArray();
                if (pairs.Length > 0) await st.SetManyAsync(pairs, c.Cancellation);
                return ResultValue.Ok();
            }, WasiFailed));
        batch.DefineAsyncFunc("delete-many", T.Func([("bucket", T.Borrow(bucket)), ("keys", keys)], T.Result(null, WasiErrorType)),
            (c, a) => Call(a, async st =>
            {
                var names = Strings(a[1]);
                if (names.Count > 0) await st.DeleteManyAsync(names, c.Cancellation);
                return ResultValue.Ok();
            }, WasiFailed));
        return (s, atomics, batch);
    }

    private static IReadOnlyList<string> Strings(object? list) => ((object?[])list!).Select(k => (string)k!).ToArray();

    private static (IKeyValueStore? Store, StateOpenError Error) Open(HostCallContext c, string label) =>
        c.StoreData is IKeyValueContext { KeyValue: { } kv } ? kv.Open(label) : (null, StateOpenError.NotFound);

    // Spin's and wasi:keyvalue's `other(message)`: the case a backend failure becomes.
    private static readonly Func<KeyValueException, ResultValue> SpinFailed = e => ResultValue.Err(new VariantValue((int)SpinError.Other, e.Message));
    private static readonly Func<KeyValueException, ResultValue> WasiFailed = e => ResultValue.Err(new VariantValue((int)WasiError.Other, e.Message));

    // The four calls a request makes most, written out so that one which completes at once (a SQLite read, an
    // uncontended write) allocates no closure and no task. Argument 0 is the store, 1 the key, 2 the value.
    private static async ValueTask<object?> Get(HostCallContext c, object?[] a, Func<KeyValueException, ResultValue> failed)
    {
        try { return ResultValue.Ok(await Store(a).GetAsync((string)a[1]!, c.Cancellation).ConfigureAwait(false) is { } v ? new Some(v) : null); }
        catch (KeyValueException e) { return failed(e); }
    }

    private static async ValueTask<object?> Set(HostCallContext c, object?[] a, Func<KeyValueException, ResultValue> failed)
    {
        try { await Store(a).SetAsync((string)a[1]!, (byte[])a[2]!, c.Cancellation).ConfigureAwait(false); }
        catch (KeyValueException e) { return failed(e); }
        return ResultValue.Ok();
    }

    private static async ValueTask<object?> Delete(HostCallContext c, object?[] a, Func<KeyValueException, ResultValue> failed)
    {
        try { await Store(a).DeleteAsync((string)a[1]!, c.Cancellation).ConfigureAwait(false); }
        catch (KeyValueException e) { return failed(e); }
        return ResultValue.Ok();
    }

    private static async ValueTask<object?> Exists(HostCallContext c, object?[] a, Func<KeyValueException, ResultValue> failed)
    {
        try { return ResultValue.Ok(await Store(a).ExistsAsync((string)a[1]!, c.Cancellation).ConfigureAwait(false)); }
        catch (KeyValueException e) { return failed(e); }
    }

    private static IKeyValueStore Store(object?[] args) => ((OpenStore)args[0]!).Store;

    /// <summary>Runs an operation on the store in argument 0; a backend failure becomes <paramref name="failed"/>'s error.</summary>
    private static async ValueTask<object?> Call(object?[] args, Func<IKeyValueStore, Task<ResultValue>> operation, Func<KeyValueException, ResultValue> failed)
    {
        try
        {
            return await operation(((OpenStore)args[0]!).Store).ConfigureAwait(false);
        }
        catch (KeyValueException e)
        {
            return failed(e);
        }
    }
}
