using Microsoft.Data.Sqlite;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// A SQLite file holding key-value stores in Spin's layout: one table <c>spin_key_value (store, key, value)</c>, the
/// store's label in the <c>store</c> column, so a <c>.spin/sqlite_key_value.db</c> written by <c>spin up</c> is read
/// unchanged and the other way round. Every store label mapped to the same file shares it.
/// <para>
/// The file is in WAL mode, so readers never wait for a writer; reads run at once on a pooled connection. Writes go
/// through one writer per file, which commits whatever writes are waiting as one transaction (group commit): one
/// fsync for many writes, each still durable once its call returns, and no two writers of this process ever
/// contend for SQLite's lock (contending writers poll it with sleeps: with 64 requests writing at once, 520 req/s,
/// p50 100 ms). Each write runs in a savepoint of its own, so a failing one fails alone. Another process writing
/// the same file (a <c>spin up</c>) is waited for up to 30 s. Readers and the writer keep their statements
/// prepared (<see cref="SqliteSession"/>): idle reader connections wait in a small pool instead of being reopened.
/// </para>
/// </summary>
public sealed class SqliteKeyValueDatabase : IDisposable
{
    private const string CreateTable = """
        CREATE TABLE IF NOT EXISTS spin_key_value (
            store TEXT NOT NULL,
            key   TEXT NOT NULL,
            value BLOB NOT NULL,

            PRIMARY KEY (store, key)
        )
        """;

    private readonly string _connectionString;
    private readonly SqliteConnection? _keepAlive;
    private readonly System.Threading.Channels.Channel<PendingWrite> _writes =
        System.Threading.Channels.Channel.CreateUnbounded<PendingWrite>(new() { SingleReader = true });
    private readonly Task _writer;
    private readonly System.Collections.Concurrent.ConcurrentBag<SqliteSession> _idleReaders = [];

    // Idle reader connections kept open: as many as requests read at once on a busy server (each read is short).
    private static readonly int MaxIdleReaders = 4 * Environment.ProcessorCount;

    /// <summary>One write waiting for the writer: what to run on its session and who waits for the result.</summary>
    private sealed record PendingWrite(Func<SqliteSession, object?> Operation, TaskCompletionSource<object?> Done);

    /// <summary>Opens (creating it and its folder if needed) the database file at <paramref name="path"/>, or a private in-memory database when null.</summary>
    /// <exception cref="KeyValueException">The file cannot be created or opened, or is not a SQLite database.</exception>
    public SqliteKeyValueDatabase(string? path)
    {
        Path = path;
        try
        {
            if (path is null)
            {
                // A shared-cache memory database lives as long as one connection to it is open.
                _connectionString = new SqliteConnectionStringBuilder
                {
                    DataSource = $"spindle-kv-{Guid.NewGuid():N}", Mode = SqliteOpenMode.Memory, Cache = SqliteCacheMode.Shared, DefaultTimeout = 30,
                }.ToString();
                _keepAlive = new SqliteConnection(_connectionString);
                _keepAlive.Open();
                Execute(_keepAlive, CreateTable);
                _writer = Task.Run(WriteLoopAsync);
                return;
            }
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            _connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, DefaultTimeout = 30, Pooling = true,
            }.ToString();
            using var c = Open();
            Execute(c, "PRAGMA journal_mode=WAL");
            Execute(c, CreateTable);
            _writer = Task.Run(WriteLoopAsync);
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new KeyValueException($"cannot open key-value database {path ?? "(in memory)"}: {e.Message}", e);
        }
    }

    /// <summary>The file's full path, or null for an in-memory database.</summary>
    public string? Path { get; }

    /// <summary>The store named <paramref name="label"/> in this file.</summary>
    public IKeyValueStore Store(string label) => new SqliteKeyValueStore(this, label);

    /// <summary>Runs a read on an idle reader session (or a new one), which goes back to the pool afterwards.</summary>
    internal T Run<T>(Func<SqliteSession, T> operation)
    {
        SqliteSession? session = null;
        try
        {
            session = _idleReaders.TryTake(out var idle) ? idle : new SqliteSession(Open());
            var result = operation(session);
            if (_idleReaders.Count < MaxIdleReaders) _idleReaders.Add(session);
            else session.Dispose();
            return result;
        }
        catch (Exception e)
        {
            session?.Dispose(); // its state is unknown: never reused
            if (e is SqliteException sqlite) throw Failed(sqlite);
            throw;
        }
    }

    /// <summary>Runs <paramref name="operation"/> on the writer's connection, inside a transaction shared with the other waiting writes.</summary>
    internal async Task<T> WriteAsync<T>(Func<SqliteSession, T> operation)
    {
        var done = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writes.Writer.TryWrite(new PendingWrite(c => operation(c), done)))
            throw new KeyValueException($"key-value database {Path ?? "(in memory)"} is closed");
        return (T)(await done.Task.ConfigureAwait(false))!;
    }

    private async Task WriteLoopAsync()
    {
        using var c = new SqliteSession(Open());
        var batch = new List<PendingWrite>();
        var results = new List<(PendingWrite Write, object? Result, Exception? Error)>();
        while (await _writes.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            results.Clear();
            while (batch.Count < 1024 && _writes.Reader.TryRead(out var w)) batch.Add(w);
            try
            {
                c.Execute("BEGIN IMMEDIATE");
                foreach (var w in batch)
                {
                    c.Execute("SAVEPOINT write");
                    try
                    {
                        results.Add((w, w.Operation(c), null));
                    }
                    catch (Exception e) when (e is SqliteException or KeyValueException)
                    {
                        c.Execute("ROLLBACK TO write");
                        results.Add((w, null, e as KeyValueException ?? Failed(e)));
                    }
                    c.Execute("RELEASE write");
                }
                c.Execute("COMMIT");
            }
            catch (Exception e)
            {
                // The transaction itself failed (disk full, locked past the timeout): none of these writes happened.
                try { if (c.InTransaction) c.Execute("ROLLBACK"); } catch (SqliteException) { }
                foreach (var w in batch) w.Done.TrySetException(Failed(e));
                continue;
            }
            foreach (var (w, result, error) in results)
                if (error is null) w.Done.TrySetResult(result);
                else w.Done.TrySetException(error);
        }
    }

    private KeyValueException Failed(Exception e) => new($"key-value database {Path ?? "(in memory)"}: {e.Message}", e);

    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Writes already queued are committed before the file is closed.
        _writes.Writer.TryComplete();
        try { _writer.GetAwaiter().GetResult(); } catch (SqliteException) { /* the writer could not open the file: nothing was written */ }
        while (_idleReaders.TryTake(out var reader)) reader.Dispose();
        _keepAlive?.Dispose();
        if (Path is not null) SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }
}
