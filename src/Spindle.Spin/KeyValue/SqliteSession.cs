using Microsoft.Data.Sqlite;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// A connection and the statements prepared on it, used by one caller at a time. A command keeps its compiled
/// statement while its text stays the same, so asking for the same SQL again skips SQLite's parse and plan (most of
/// the cost of a one-row read or upsert).
/// </summary>
internal sealed class SqliteSession(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);

    /// <summary>The command for <paramref name="sql"/> on this connection, with no parameters bound.</summary>
    public SqliteCommand Statement(string sql)
    {
        if (!_statements.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            _statements[sql] = command;
        }
        command.Parameters.Clear();
        return command;
    }

    /// <summary>Runs <paramref name="sql"/> (no parameters).</summary>
    public void Execute(string sql) => Statement(sql).ExecuteNonQuery();

    /// <summary>Whether the connection is inside a transaction.</summary>
    public bool InTransaction => SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) == 0;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var command in _statements.Values) command.Dispose();
        connection.Dispose();
    }
}
