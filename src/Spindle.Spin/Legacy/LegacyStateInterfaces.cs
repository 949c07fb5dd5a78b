using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Spin.KeyValue;
using Spindle.Spin.Sqlite;

namespace Spindle.Spin.Legacy;

/// <summary>
/// Spin's first-generation state interfaces, unversioned <c>fermyon:spin/key-value</c> and <c>fermyon:spin/sqlite</c>
/// (also what the Spin ≤ 1.3 modules import as <c>key-value</c> and <c>sqlite</c>): stores and connections are
/// <c>u32</c> numbers instead of resources, and a missing key is the error <c>no-such-key</c>. They reach the same
/// stores and databases as the current interfaces. The store data must implement <see cref="ILegacyHandlesContext"/>
/// (and <see cref="IKeyValueContext"/> / <see cref="ISqliteContext"/> for access).
/// </summary>
public static class LegacyStateInterfaces
{
    /// <summary>The key-value <c>error</c> variant: <c>store-table-full</c>, <c>no-such-store</c>, <c>access-denied</c>, <c>invalid-store</c>, <c>no-such-key</c>, <c>io(string)</c>.</summary>
    public static VariantType KeyValueErrorType { get; } = T.Variant(("store-table-full", null), ("no-such-store", null), ("access-denied", null),
        ("invalid-store", null), ("no-such-key", null), ("io", T.String));

    private enum KvError { StoreTableFull = 0, NoSuchStore = 1, AccessDenied = 2, InvalidStore = 3, NoSuchKey = 4, Io = 5 }

    private enum SqlError { NoSuchDatabase = 0, AccessDenied = 1, InvalidConnection = 2, DatabaseFull = 3, Io = 4 }

    /// <summary>Adds both interfaces to <paramref name="registry"/>.</summary>
    public static HostRegistry AddTo(HostRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.Add(KeyValue());
        registry.Add(Sqlite());
        return registry;
    }

    private static ResultValue Kv(KvError e, string? message = null) => ResultValue.Err(new VariantValue((int)e, message));

    private static ResultValue Sql(SqlError e, string? message = null) => ResultValue.Err(new VariantValue((int)e, message));

    private static LegacyHandles Handles(HostCallContext c) =>
        (c.StoreData as ILegacyHandlesContext)?.LegacyHandles ?? throw new InvalidOperationException("the store data holds no first-generation handle table");

    private static HostInterface KeyValue()
    {
        var i = new HostInterface("fermyon:spin/key-value", "");
        var error = KeyValueErrorType;
        i.DefineType("error", error);
        var store = ("store", (ValType)T.U32);
        var key = ("key", (ValType)T.String);

        i.DefineFunc("open", T.Func([("name", T.String)], T.Result(T.U32, error)), (c, a) =>
            (c.StoreData is IKeyValueContext { KeyValue: { } kv } ? kv.Open((string)a[0]!) : (null, StateOpenError.NotFound)) switch
            {
                (not null and var s, _) => Handles(c).Add(s) is { } handle ? ResultValue.Ok(handle) : Kv(KvError.StoreTableFull),
                (_, StateOpenError.AccessDenied) => Kv(KvError.AccessDenied),
                _ => Kv(KvError.NoSuchStore),
            });
        i.DefineAsyncFunc("get", T.Func([store, key], T.Result(T.List(T.U8), error)),
            (c, a) => Call(c, a, async s => await s.GetAsync((string)a[1]!, c.Cancellation) is { } v ? ResultValue.Ok(v) : Kv(KvError.NoSuchKey)));
        i.DefineAsyncFunc("set", T.Func([store, key, ("value", T.List(T.U8))], T.Result(null, error)),
            (c, a) => Call(c, a, async s => { await s.SetAsync((string)a[1]!, (byte[])a[2]!, c.Cancellation); return ResultValue.Ok(); }));
        i.DefineAsyncFunc("delete", T.Func([store, key], T.Result(null, error)),
            (c, a) => Call(c, a, async s => { await s.DeleteAsync((string)a[1]!, c.Cancellation); return ResultValue.Ok(); }));
        i.DefineAsyncFunc("exists", T.Func([store, key], T.Result(T.Bool, error)),
            (c, a) => Call(c, a, async s => ResultValue.Ok(await s.ExistsAsync((string)a[1]!, c.Cancellation))));
        i.DefineAsyncFunc("get-keys", T.Func([store], T.Result(T.List(T.String), error)),
            (c, a) => Call(c, a, async s => ResultValue.Ok((await s.GetKeysAsync(c.Cancellation)).Cast<object?>().ToArray())));
        i.DefineFunc("close", T.Func([store]), (c, a) =>
        {
            Handles(c).Remove((uint)a[0]!);
            return null;
        });
        return i;

        static async ValueTask<object?> Call(HostCallContext c, object?[] a, Func<IKeyValueStore, Task<ResultValue>> operation)
        {
            if (Handles(c).Get<IKeyValueStore>((uint)a[0]!) is not { } s) return Kv(KvError.InvalidStore);
            try { return await operation(s).ConfigureAwait(false); }
            catch (KeyValueException e) { return Kv(KvError.Io, e.Message); }
        }
    }

    private static HostInterface Sqlite()
    {
        var i = new HostInterface("fermyon:spin/sqlite", "");
        var value = SqliteInterfaces.ValueType;
        var rowResult = T.Record(("values", T.List(value)));
        var queryResult = T.Record(("columns", T.List(T.String)), ("rows", T.List(rowResult)));
        i.DefineType("error", SqliteInterfaces.ErrorType);
        i.DefineType("value", value);
        i.DefineType("row-result", rowResult);
        i.DefineType("query-result", queryResult);
        var conn = ("conn", (ValType)T.U32);

        i.DefineFunc("open", T.Func([("database", T.String)], T.Result(T.U32, SqliteInterfaces.ErrorType)), (c, a) =>
            (c.StoreData is ISqliteContext { Sqlite: { } sqlite } ? sqlite.Open((string)a[0]!) : (null, StateOpenError.NotFound)) switch
            {
                (not null and var opened, _) => Handles(c).Add(opened) is { } handle ? ResultValue.Ok(handle) : DisposeFull(opened),
                (_, StateOpenError.AccessDenied) => Sql(SqlError.AccessDenied),
                _ => Sql(SqlError.NoSuchDatabase),
            });
        i.DefineFunc("execute", T.Func([conn, ("statement", T.String), ("parameters", T.List(value))], T.Result(queryResult, SqliteInterfaces.ErrorType)), (c, a) =>
        {
            if (Handles(c).Get<SqliteGuestConnection>((uint)a[0]!) is not { } connection) return Sql(SqlError.InvalidConnection);
            try
            {
                var result = connection.Execute((string)a[1]!, SqliteInterfaces.Parameters(a[2]));
                return ResultValue.Ok(SqliteInterfaces.QueryResult(result));
            }
            catch (SqliteGuestException e)
            {
                return Sql(SqlError.Io, e.Message);
            }
        });
        i.DefineFunc("close", T.Func([conn]), (c, a) =>
        {
            Handles(c).Remove((uint)a[0]!);
            return null;
        });
        return i;

        // No "table full" case in the SQLite error variant: Spin answers io with a message.
        static ResultValue DisposeFull(SqliteGuestConnection opened)
        {
            opened.Dispose();
            return Sql(SqlError.Io, $"too many open connections (at most {LegacyHandles.Capacity})");
        }
    }
}
