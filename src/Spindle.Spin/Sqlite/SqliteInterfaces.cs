using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Spin;

namespace Spindle.Spin.Sqlite;

/// <summary>Store data that gives a guest its SQLite databases.</summary>
public interface ISqliteContext
{
    /// <summary>The databases the calling component may open, or null when the host has none.</summary>
    ComponentSqlite? Sqlite { get; }
}

/// <summary>
/// Spin's SQLite interfaces: <c>fermyon:spin/sqlite@2.0.0</c> and <c>spin:sqlite/sqlite@3.0.0</c> (the same, plus
/// <c>last-insert-rowid</c> and <c>changes</c>). A label the component does not list is <c>access-denied</c>; every
/// SQLite error is <c>io(message)</c>.
/// </summary>
public static class SqliteInterfaces
{
    /// <summary>The <c>value</c> variant: <c>integer(s64)</c>, <c>real(f64)</c>, <c>text(string)</c>, <c>blob(list&lt;u8&gt;)</c>, <c>null</c>.</summary>
    public static VariantType ValueType { get; } = T.Variant(("integer", T.S64), ("real", T.F64), ("text", T.String), ("blob", T.List(T.U8)), ("null", null));

    /// <summary>The <c>error</c> variant: <c>no-such-database</c>, <c>access-denied</c>, <c>invalid-connection</c>, <c>database-full</c>, <c>io(string)</c>.</summary>
    public static VariantType ErrorType { get; } = T.Variant(("no-such-database", null), ("access-denied", null), ("invalid-connection", null), ("database-full", null), ("io", T.String));

    private enum ErrorCase { NoSuchDatabase = 0, AccessDenied = 1, InvalidConnection = 2, DatabaseFull = 3, Io = 4 }

    /// <summary>Adds both interfaces to <paramref name="registry"/>.</summary>
    public static HostRegistry AddTo(HostRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.Add(Declare(new HostInterface("fermyon:spin/sqlite", "2.0.0"), withCounters: false));
        registry.Add(Declare(new HostInterface("spin:sqlite/sqlite", "3.0.0"), withCounters: true));
        return registry;
    }

    private static ResultValue Err(ErrorCase e, string? message = null) => ResultValue.Err(new VariantValue((int)e, message));

    private static HostInterface Declare(HostInterface i, bool withCounters)
    {
        var connection = i.DefineResource("connection");
        var rowResult = T.Record(("values", T.List(ValueType)));
        var queryResult = T.Record(("columns", T.List(T.String)), ("rows", T.List(rowResult)));
        i.DefineType("error", ErrorType);
        i.DefineType("value", ValueType);
        i.DefineType("row-result", rowResult);
        i.DefineType("query-result", queryResult);
        var self = ("self", (ValType)T.Borrow(connection));

        i.DefineFunc("[static]connection.open", T.Func([("database", T.String)], T.Result(T.Own(connection), ErrorType)), (c, a) =>
            (c.StoreData is ISqliteContext { Sqlite: { } sqlite } ? sqlite.Open((string)a[0]!) : (null, StateOpenError.NotFound)) switch
            {
                (not null and var opened, _) => ResultValue.Ok(opened),
                (_, StateOpenError.AccessDenied) => Err(ErrorCase.AccessDenied),
                _ => Err(ErrorCase.NoSuchDatabase),
            });
        i.DefineFunc("[method]connection.execute",
            T.Func([self, ("statement", T.String), ("parameters", T.List(ValueType))], T.Result(queryResult, ErrorType)), (_, a) =>
            {
                try
                {
                    return ResultValue.Ok(QueryResult(((SqliteGuestConnection)a[0]!).Execute((string)a[1]!, Parameters(a[2]))));
                }
                catch (SqliteGuestException e)
                {
                    return Err(ErrorCase.Io, e.Message);
                }
            });
        if (withCounters)
        {
            i.DefineFunc("[method]connection.last-insert-rowid", T.Func([self], T.S64), (_, a) => ((SqliteGuestConnection)a[0]!).LastInsertRowId);
            i.DefineFunc("[method]connection.changes", T.Func([self], T.U64), (_, a) => ((SqliteGuestConnection)a[0]!).Changes);
        }
        return i;
    }

    /// <summary>The guest's <c>list&lt;value&gt;</c> parameters as SQLite values.</summary>
    internal static SqliteValue[] Parameters(object? list) =>
        ((object?[])list!).Select(v => new SqliteValue(((VariantValue)v!).Payload)).ToArray();

    /// <summary>A result as the guest's <c>query-result</c> record (columns, rows of <c>value</c>s).</summary>
    internal static object?[] QueryResult(SqliteQueryResult result) =>
        [result.Columns.Cast<object?>().ToArray(), result.Rows.Select(r => (object?)new object?[] { r.Select(Lower).ToArray() }).ToArray()];

    private static object? Lower(SqliteValue v) => v.Value switch
    {
        long n => new VariantValue(0, n),
        double d => new VariantValue(1, d),
        string t => new VariantValue(2, t),
        byte[] b => new VariantValue(3, b),
        _ => new VariantValue(4),
    };
}
