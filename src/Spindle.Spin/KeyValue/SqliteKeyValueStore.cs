using System.Buffers.Binary;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// One store (a label) of a <see cref="SqliteKeyValueDatabase"/>, with the SQL Spin's <c>key-value-spin</c> uses. Each
/// operation passes its arguments as a value to a static function, so a call allocates no closure.
/// </summary>
internal sealed class SqliteKeyValueStore(SqliteKeyValueDatabase database, string label) : IKeyValueStore
{
    // ?1 is always the store's label and ?2 the key.
    private const string Select = "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2";
    private const string Upsert = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) ON CONFLICT(store, key) DO UPDATE SET value = ?3";
    private const string InsertNew = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) ON CONFLICT(store, key) DO NOTHING";
    private const string UpdateIf = "UPDATE spin_key_value SET value = ?3 WHERE store = ?1 AND key = ?2 AND value = ?4";
    private const string Delete = "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2";
    private const string Exists = "SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2";
    private const string Keys = "SELECT key FROM spin_key_value WHERE store = ?1";

    public ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        new(database.Read((Store: this, Key: key), static (c, s) => s.Store.Get(c, s.Key)));

    public ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        new(database.Write((Store: this, Key: key, Value: value), static (c, s) => s.Store.Put(c, Upsert, s.Key, s.Value.Span)));

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        new(database.Write((Store: this, Key: key), static (c, s) => s.Store.Remove(c, s.Key)));

    public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        new(database.Read((Store: this, Key: key), static (c, s) =>
        {
            using var statement = s.Store.Bind(c, Exists, s.Key);
            return statement.Step();
        }));

    public ValueTask<IReadOnlyList<string>> GetKeysAsync(CancellationToken cancellationToken = default) =>
        new(database.Read<SqliteKeyValueStore, IReadOnlyList<string>>(this, static (c, store) =>
        {
            using var statement = c.Prepare(Keys);
            statement.Text(1, store.Label);
            var keys = new List<string>();
            while (statement.Step()) keys.Add(statement.ColumnText(0));
            return keys;
        }));

    public ValueTask<long> IncrementAsync(string key, long delta, CancellationToken cancellationToken = default) =>
        new(database.Write((Store: this, Key: key, Delta: delta), static (c, s) =>
        {
            // On the writer, inside its write transaction: no other write runs between the read and the upsert.
            var current = s.Store.Get(c, s.Key) switch
            {
                null => 0L,
                { Length: 8 } bytes => BinaryPrimitives.ReadInt64LittleEndian(bytes),
                var other => throw new KeyValueException($"the value of '{s.Key}' is not a counter (Spin keeps counters as 8 bytes little-endian; it has {other.Length} bytes)"),
            };
            var next = unchecked(current + s.Delta);
            Span<byte> buffer = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(buffer, next);
            s.Store.Put(c, Upsert, s.Key, buffer);
            return next;
        }));

    public ValueTask<IReadOnlyList<byte[]?>> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        new(database.Read<(SqliteKeyValueStore Store, IReadOnlyList<string> Keys), IReadOnlyList<byte[]?>>((this, keys),
            static (c, s) => s.Keys.Select(k => s.Store.Get(c, k)).ToArray()));

    public ValueTask SetManyAsync(IReadOnlyList<KeyValuePair<string, byte[]>> pairs, CancellationToken cancellationToken = default) =>
        new(database.Write((Store: this, Pairs: pairs), static (c, s) =>
        {
            foreach (var (k, v) in s.Pairs) s.Store.Put(c, Upsert, k, v);
            return 0;
        }));

    public ValueTask DeleteManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        new(database.Write((Store: this, Keys: keys), static (c, s) =>
        {
            foreach (var k in s.Keys) s.Store.Remove(c, k);
            return 0;
        }));

    public ValueTask<bool> SwapAsync(string key, SwapExpectation expected, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        new(database.Write((Store: this, Key: key, Expected: expected, Value: value), static (c, s) => s.Expected switch
        {
            { WasRead: false } => s.Store.Put(c, Upsert, s.Key, s.Value.Span) == 1,
            { Value: null } => s.Store.Put(c, InsertNew, s.Key, s.Value.Span) == 1,
            { Value: { } old } => s.Store.Put(c, UpdateIf, s.Key, s.Value.Span, old) == 1,
        }));

    private string Label => label;

    private byte[]? Get(SqliteSession c, string key)
    {
        using var statement = Bind(c, Select, key);
        return statement.Step() ? statement.ColumnBlob(0) : null;
    }

    /// <summary>Runs an insert or update of <paramref name="key"/>; returns how many rows it changed.</summary>
    private int Put(SqliteSession c, string sql, string key, ReadOnlySpan<byte> value, byte[]? old = null)
    {
        using var statement = Bind(c, sql, key);
        // Spin's column is NOT NULL: an empty value is an empty blob, never NULL.
        statement.Blob(3, value);
        if (old is not null) statement.Blob(4, old);
        statement.Step();
        return statement.Changes;
    }

    private int Remove(SqliteSession c, string key)
    {
        using var statement = Bind(c, Delete, key);
        statement.Step();
        return statement.Changes;
    }

    private SqliteStatement Bind(SqliteSession c, string sql, string key)
    {
        var statement = c.Prepare(sql);
        try
        {
            statement.Text(1, label);
            statement.Text(2, key);
            return statement;
        }
        catch
        {
            statement.Dispose();
            throw;
        }
    }
}
