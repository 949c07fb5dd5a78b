using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// A connection and the statements prepared on it, used by one caller at a time. Statements run through SQLite's own
/// calls and stay prepared: a one-row read or upsert through <see cref="SqliteCommand"/> costs parameter objects, a
/// data reader, a copy of each value and several checks per run, most of that read's cost. Microsoft.Data.Sqlite
/// still opens, pools and closes the connection.
/// </summary>
internal sealed class SqliteSession : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Dictionary<string, sqlite3_stmt> _prepared = new(StringComparer.Ordinal);

    /// <summary>Takes <paramref name="connection"/> (open); a locked file is waited for up to 30 s, as the provider's default timeout did.</summary>
    public SqliteSession(SqliteConnection connection)
    {
        _connection = connection;
        raw.sqlite3_busy_timeout(connection.Handle, 30_000);
    }

    /// <summary>The statement for <paramref name="sql"/>, prepared once per connection; dispose it to reset it.</summary>
    /// <exception cref="SqliteException">SQLite refused the statement.</exception>
    public SqliteStatement Prepare(string sql)
    {
        var db = _connection.Handle!;
        if (!_prepared.TryGetValue(sql, out var stmt))
        {
            SqliteStatement.Check(raw.sqlite3_prepare_v2(db, sql, out stmt), db);
            _prepared[sql] = stmt;
        }
        return new SqliteStatement(stmt, db);
    }

    /// <summary>Runs <paramref name="sql"/> (no parameters, no rows).</summary>
    public void Execute(string sql)
    {
        using var statement = Prepare(sql);
        statement.Step();
    }

    /// <summary>Whether the connection is inside a transaction.</summary>
    public bool InTransaction => raw.sqlite3_get_autocommit(_connection.Handle) == 0;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var stmt in _prepared.Values) stmt.Dispose();
        _connection.Dispose();
    }
}
