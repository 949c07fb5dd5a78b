using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Spindle.Spin.Sqlite;

/// <summary>A value of Spin's SQLite <c>value</c> variant: <see cref="long"/>, <see cref="double"/>, <see cref="string"/>, <see cref="byte"/>[] or null.</summary>
public readonly record struct SqliteValue(object? Value);

/// <summary>What a statement returned: the column names and the rows (each as many values as columns).</summary>
public sealed record SqliteQueryResult(IReadOnlyList<string> Columns, IReadOnlyList<SqliteValue[]> Rows);

/// <summary>A statement failed; the message is SQLite's, as the guest gets it in <c>io(message)</c>.</summary>
public sealed class SqliteGuestException(string message) : Exception(message);

/// <summary>
/// One connection a guest opened (<c>connection.open</c>), as Spin's in-process SQLite serves it: the database is
/// opened on first use, each <c>execute</c> prepares one statement (text after it is ignored, as in Spin), binds the
/// parameters by position and returns every row, each value by its storage class (not its declared column type).
/// A file database waits up to 5 s for another writer's lock (rusqlite's default in Spin); an in-memory label gives
/// every connection a database of its own, as in Spin. A guest cannot reach another file (<c>ATTACH</c> is denied).
/// </summary>
public sealed class SqliteGuestConnection : IDisposable
{
    /// <summary>Largest result handed to a guest (Spin's <c>MAX_HOST_BUFFERED_BYTES</c>, 128 MiB).</summary>
    public const long MaxResultBytes = 128L << 20;

    private readonly string? _path;
    private SqliteConnection? _connection;

    internal SqliteGuestConnection(string? path) => _path = path;

    /// <summary>Runs <paramref name="statement"/> with positional <paramref name="parameters"/>.</summary>
    /// <exception cref="SqliteGuestException">SQLite refused the statement or the parameters, or the result is too large.</exception>
    public SqliteQueryResult Execute(string statement, IReadOnlyList<SqliteValue> parameters)
    {
        var db = Database();
        var rc = raw.sqlite3_prepare_v2(db, statement, out var stmt, out _);
        if (rc != raw.SQLITE_OK) throw Error(db, statement);
        using (stmt)
        {
            if (stmt is null || stmt.IsInvalid) return new SqliteQueryResult([], []); // only whitespace or a comment
            var needed = raw.sqlite3_bind_parameter_count(stmt);
            if (needed != parameters.Count)
                throw new SqliteGuestException($"Wrong number of parameters passed to query. Got {parameters.Count}, needed {needed}");
            for (var i = 0; i < parameters.Count; i++)
            {
                var index = i + 1;
                rc = parameters[i].Value switch
                {
                    null => raw.sqlite3_bind_null(stmt, index),
                    long n => raw.sqlite3_bind_int64(stmt, index, n),
                    double d => raw.sqlite3_bind_double(stmt, index, d),
                    string t => raw.sqlite3_bind_text(stmt, index, t),
                    byte[] b => raw.sqlite3_bind_blob(stmt, index, b),
                    var other => throw new ArgumentException($"not a SQLite value: {other.GetType()}", nameof(parameters)),
                };
                if (rc != raw.SQLITE_OK) throw Error(db, statement);
            }
            var columns = new string[raw.sqlite3_column_count(stmt)];
            for (var c = 0; c < columns.Length; c++) columns[c] = raw.sqlite3_column_name(stmt, c).utf8_to_string();
            var rows = new List<SqliteValue[]>();
            long size = 0;
            while ((rc = raw.sqlite3_step(stmt)) == raw.SQLITE_ROW)
            {
                var row = new SqliteValue[columns.Length];
                for (var c = 0; c < columns.Length; c++)
                {
                    row[c] = new SqliteValue(raw.sqlite3_column_type(stmt, c) switch
                    {
                        raw.SQLITE_INTEGER => raw.sqlite3_column_int64(stmt, c),
                        raw.SQLITE_FLOAT => raw.sqlite3_column_double(stmt, c),
                        raw.SQLITE_TEXT => raw.sqlite3_column_text(stmt, c).utf8_to_string(),
                        raw.SQLITE_BLOB => raw.sqlite3_column_blob(stmt, c).ToArray(),
                        _ => null,
                    });
                    size += 16 + row[c].Value switch { string t => t.Length, byte[] b => b.Length, _ => 0 };
                }
                if (size > MaxResultBytes) throw new SqliteGuestException($"query result exceeds limit of {MaxResultBytes} bytes");
                rows.Add(row);
            }
            if (rc != raw.SQLITE_DONE) throw Error(db, statement);
            return new SqliteQueryResult(columns, rows);
        }
    }

    /// <summary>The rowid of the most recent successful INSERT on this connection (0 before any).</summary>
    public long LastInsertRowId => _connection is null ? 0 : raw.sqlite3_last_insert_rowid(_connection.Handle);

    /// <summary>Rows changed by the most recent INSERT, UPDATE or DELETE on this connection.</summary>
    public ulong Changes => _connection is null ? 0 : (ulong)raw.sqlite3_changes(_connection.Handle);

    private sqlite3 Database()
    {
        if (_connection is null)
        {
            var builder = _path is null
                ? new SqliteConnectionStringBuilder { DataSource = ":memory:" }
                : new SqliteConnectionStringBuilder { DataSource = _path, Mode = SqliteOpenMode.ReadWriteCreate };
            var connection = new SqliteConnection(builder.ToString());
            try
            {
                connection.Open();
            }
            catch (SqliteException e)
            {
                connection.Dispose();
                throw new SqliteGuestException(e.Message);
            }
            raw.sqlite3_busy_timeout(connection.Handle, 5000);
            // The guest stays inside its database: no ATTACH of a file (an in-memory or temporary one is harmless),
            // as Spin without allow_attach_file. load_extension() is off already (SQLite's default, which
            // Microsoft.Data.Sqlite keeps).
            raw.sqlite3_set_authorizer(connection.Handle, DenyAttachingFiles, null);
            _connection = connection;
        }
        return _connection.Handle!;
    }

    private const int SqliteAttach = 24;

    private static readonly strdelegate_authorizer DenyAttachingFiles = (_, action, file, _, _, _) =>
        action == SqliteAttach && file is not ("" or ":memory:" or null) ? raw.SQLITE_DENY : raw.SQLITE_OK;

    private static SqliteGuestException Error(sqlite3 db, string statement) =>
        new($"{raw.sqlite3_errmsg(db).utf8_to_string()} (in: {statement})");

    /// <inheritdoc />
    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
    }
}
