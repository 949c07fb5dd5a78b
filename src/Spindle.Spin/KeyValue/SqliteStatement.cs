using System.Buffers;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// One run of a prepared statement: bind parameters (numbered from 1), step through the rows, read columns (numbered
/// from 0). Disposing resets it and clears its parameters, so it holds no read snapshot and no value between runs.
/// </summary>
internal readonly ref struct SqliteStatement
{
    private readonly sqlite3_stmt _stmt;
    private readonly sqlite3 _db;

    internal SqliteStatement(sqlite3_stmt stmt, sqlite3 db)
    {
        _stmt = stmt;
        _db = db;
    }

    /// <summary>Binds a string as UTF-8 text (SQLite copies it).</summary>
    public void Text(int index, string value)
    {
        // An empty span would bind NULL (there is no pointer to pass): bind the empty string from a literal instead.
        if (value.Length == 0)
        {
            Check(raw.sqlite3_bind_text(_stmt, index, ""), _db);
            return;
        }
        var length = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = length > 512 ? ArrayPool<byte>.Shared.Rent(length) : null;
        try
        {
            Span<byte> buffer = rented is not null ? rented : stackalloc byte[512];
            var written = Encoding.UTF8.GetBytes(value, buffer);
            Check(raw.sqlite3_bind_text(_stmt, index, buffer[..written]), _db);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Binds bytes as a blob (SQLite copies them); empty bytes are an empty blob, never NULL.</summary>
    public void Blob(int index, ReadOnlySpan<byte> value) =>
        Check(value.IsEmpty ? raw.sqlite3_bind_zeroblob(_stmt, index, 0) : raw.sqlite3_bind_blob(_stmt, index, value), _db);

    /// <summary>Runs the statement to its next row: true when there is one, false when it is done.</summary>
    /// <exception cref="SqliteException">The statement failed.</exception>
    public bool Step()
    {
        var rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_LOCKED) rc = StepOnceUnlocked();
        if (rc == raw.SQLITE_ROW) return true;
        if (rc != raw.SQLITE_DONE) Check(rc, _db);
        return false;
    }

    /// <summary>
    /// Steps again until the table is no longer locked, for up to 30 s. Only a shared-cache database (an in-memory store)
    /// reports a table that another connection is writing as locked, and SQLite's busy timeout does not wait for that:
    /// its writer's transactions are short (no disk), so a millisecond's sleep between attempts is enough.
    /// </summary>
    private int StepOnceUnlocked()
    {
        var deadline = Environment.TickCount64 + 30_000;
        int rc;
        do
        {
            raw.sqlite3_reset(_stmt);
            Thread.Sleep(1);
            rc = raw.sqlite3_step(_stmt);
        }
        while (rc == raw.SQLITE_LOCKED && Environment.TickCount64 < deadline);
        return rc;
    }

    /// <summary>The row's column as a copy of its bytes, or null when it is not a blob.</summary>
    public byte[]? ColumnBlob(int index) =>
        raw.sqlite3_column_type(_stmt, index) == raw.SQLITE_BLOB ? raw.sqlite3_column_blob(_stmt, index).ToArray() : null;

    /// <summary>The row's column as text.</summary>
    public string ColumnText(int index) => raw.sqlite3_column_text(_stmt, index).utf8_to_string();

    /// <summary>How many rows the statement that just finished inserted, updated or deleted.</summary>
    public int Changes => raw.sqlite3_changes(_db);

    /// <summary>Resets the statement and clears its parameters; a failure was already reported by <see cref="Step"/>.</summary>
    public void Dispose()
    {
        raw.sqlite3_reset(_stmt);
        raw.sqlite3_clear_bindings(_stmt);
    }

    internal static void Check(int rc, sqlite3 db)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
    }
}
