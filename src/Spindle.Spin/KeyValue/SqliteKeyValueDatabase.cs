using Microsoft.Data.Sqlite;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// A SQLite file holding key-value stores in Spin's layout: one table <c>spin_key_value (store, key, value)</c>, the
/// store's label in the <c>store</c> column, so a <c>.spin/sqlite_key_value.db</c> written by <c>spin up</c> is read
/// unchanged and the other way round. Every store label mapped to the same file shares it.
/// <para>
/// The file is in WAL mode, so readers never wait for a writer; reads run at once on a pooled connection. Writes are
/// committed by one thread at a time, on one writer connection, which commits whatever writes are waiting as one
/// transaction (group commit): one fsync for many writes, each still durable once its call returns, and no two
/// writers of this process ever contend for SQLite's lock (contending writers poll it with sleeps: with 64 requests
/// writing at once, 520 req/s, p50 100 ms). The committing thread is the first writer that finds nobody committing
/// (leader-based group commit): an uncontended write completes on its caller's thread with no hand-off to another
/// thread and back, which on this kind of VM costs more than the write; writes that arrive meanwhile wait for the
/// next batch, which a thread-pool thread commits once the leader's own write is done. Each write of a batch runs in
/// a savepoint of its own, so a failing one fails alone. Another process writing the same file (a <c>spin up</c>) is
/// waited for up to 30 s. Readers and the writer keep their statements prepared (<see cref="SqliteSession"/>): idle
/// reader connections wait in a small pool instead of being reopened.
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
    private readonly System.Collections.Concurrent.ConcurrentQueue<IPendingWrite> _writes = new();
    // Held by the thread committing the waiting writes (the leader); guards _writer and _closed.
    private readonly Lock _commit = new();
    private SqliteSession? _writer;
    private bool _closed;
    private readonly List<IPendingWrite> _batch = [];
    // Idle reader connections, kept open: as many as requests read at once on a busy server (each read is short).
    private readonly Stack<SqliteSession> _idleReaders = new();
    private static readonly int MaxIdleReaders = 4 * Environment.ProcessorCount;

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
    internal T Read<TState, T>(TState state, Func<SqliteSession, TState, T> operation)
    {
        SqliteSession? session = null;
        try
        {
            lock (_idleReaders) _idleReaders.TryPop(out session);
            session ??= new SqliteSession(Open());
            var result = operation(session, state);
            lock (_idleReaders)
            {
                if (_idleReaders.Count < MaxIdleReaders)
                {
                    _idleReaders.Push(session);
                    session = null;
                }
            }
            session?.Dispose();
            return result;
        }
        catch (Exception e)
        {
            session?.Dispose(); // its state is unknown: never reused
            if (e is SqliteException sqlite) throw Failed(sqlite);
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on the writer's connection, inside a transaction shared with the other waiting
    /// writes; commits them on this thread when no other thread is committing. The task completes once the write is
    /// committed (or failed).
    /// </summary>
    internal Task<T> Write<TState, T>(TState state, Func<SqliteSession, TState, T> operation)
    {
        var write = new PendingWrite<TState, T>(state, operation);
        _writes.Enqueue(write);
        CommitWaiting(write.Task);
        return write.Task;
    }

    /// <summary>
    /// Commits the waiting writes unless another thread already does (it will commit ours). A writer's thread
    /// commits until its own write (<paramref name="own"/>) is done, then hands what arrived meanwhile to the thread
    /// pool: under a steady stream of writes its request would otherwise wait for everyone else's. The pool commits
    /// until nothing waits. The queue is checked again after the lock is released: a write queued just before is
    /// never left waiting.
    /// </summary>
    private void CommitWaiting(Task? own = null)
    {
        while (!_writes.IsEmpty && _commit.TryEnter())
        {
            try
            {
                do CommitBatch();
                while (own is { IsCompleted: false } && !_writes.IsEmpty);
            }
            finally
            {
                _commit.Exit();
            }
            if (own is { IsCompleted: true } && !_writes.IsEmpty)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static db => db.CommitWaiting(), this, preferLocal: false);
                return;
            }
        }
    }

    // Holds _commit.
    private void CommitBatch()
    {
        _batch.Clear();
        while (_batch.Count < 1024 && _writes.TryDequeue(out var w)) _batch.Add(w);
        if (_closed)
        {
            var closed = new KeyValueException($"key-value database {Path ?? "(in memory)"} is closed");
            foreach (var w in _batch) w.Fail(closed);
            return;
        }
        try
        {
            var c = _writer ??= new SqliteSession(Open());
            c.Execute("BEGIN IMMEDIATE");
            // One write alone needs no savepoint: if it fails, rolling the transaction back fails only it.
            var alone = _batch.Count == 1;
            foreach (var w in _batch)
            {
                if (!alone) c.Execute("SAVEPOINT write");
                try
                {
                    w.Run(c);
                }
                catch (Exception e) when (!alone && e is SqliteException or KeyValueException)
                {
                    c.Execute("ROLLBACK TO write");
                    w.FailAlone(e as KeyValueException ?? Failed(e));
                }
                if (!alone) c.Execute("RELEASE write");
            }
            c.Execute("COMMIT");
        }
        catch (Exception e)
        {
            // The transaction itself failed (disk full, locked past the timeout), or the only write did: none of
            // these writes happened.
            try { if (_writer is { InTransaction: true } c) c.Execute("ROLLBACK"); } catch (SqliteException) { }
            var error = e as KeyValueException ?? Failed(e);
            foreach (var w in _batch) w.Fail(error);
            return;
        }
        foreach (var w in _batch) w.Complete();
    }

    /// <summary>A write waiting for the writer, as the commit loop sees it.</summary>
    private interface IPendingWrite
    {
        /// <summary>Runs the write on the writer's session, inside the batch's transaction; keeps its result.</summary>
        void Run(SqliteSession session);

        /// <summary>Marks the write failed alone (its savepoint was rolled back); the batch goes on.</summary>
        void FailAlone(Exception error);

        /// <summary>The batch committed: hands the write's result (or its own failure) to its caller.</summary>
        void Complete();

        /// <summary>The batch did not commit: the write fails with <paramref name="error"/>.</summary>
        void Fail(Exception error);
    }

    /// <summary>One write and the task its caller awaits (continued on the pool: never on the committing thread).</summary>
    private sealed class PendingWrite<TState, T>(TState state, Func<SqliteSession, TState, T> operation)
        : TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously), IPendingWrite
    {
        private T _result = default!;
        private Exception? _error;

        public void Run(SqliteSession session) => _result = operation(session, state);

        public void FailAlone(Exception error) => _error = error;

        public void Complete()
        {
            if (_error is null) TrySetResult(_result);
            else TrySetException(_error);
        }

        public void Fail(Exception error) => TrySetException(error);
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
        // Writes already queued are committed before the file is closed; later ones fail as closed.
        lock (_commit)
        {
            while (!_writes.IsEmpty) CommitBatch();
            _closed = true;
            _writer?.Dispose();
            _writer = null;
        }
        lock (_idleReaders)
            while (_idleReaders.TryPop(out var reader)) reader.Dispose();
        _keepAlive?.Dispose();
        if (Path is not null) SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }
}
