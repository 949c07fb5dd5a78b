using Microsoft.Data.Sqlite;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// A SQLite file holding key-value stores in Spin's layout: one table <c>spin_key_value (store, key, value)</c>, the
/// store's label in the <c>store</c> column, so a <c>.spin/sqlite_key_value.db</c> written by <c>spin up</c> is read
/// unchanged and the other way round. Every store label mapped to the same file shares it.
/// <para>
/// Connections come from Microsoft.Data.Sqlite's pool, one per operation; the file is in WAL mode (readers never
/// wait for a writer) and a writer that finds the file locked retries for up to 30 s (the provider's busy
/// handling) instead of failing. Operations run synchronously: they take microseconds on a local file.
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

    internal T Run<T>(Func<SqliteConnection, T> operation)
    {
        try
        {
            using var c = Open();
            return operation(c);
        }
        catch (SqliteException e)
        {
            throw new KeyValueException($"key-value database {Path ?? "(in memory)"}: {e.Message}", e);
        }
    }

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
        _keepAlive?.Dispose();
        if (Path is not null) SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }
}
