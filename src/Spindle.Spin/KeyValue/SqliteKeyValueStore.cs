using System.Buffers.Binary;
using Microsoft.Data.Sqlite;

namespace Spindle.Spin.KeyValue;

/// <summary>One store (a label) of a <see cref="SqliteKeyValueDatabase"/>, with the SQL Spin's <c>key-value-spin</c> uses.</summary>
internal sealed class SqliteKeyValueStore(SqliteKeyValueDatabase database, string label) : IKeyValueStore
{
    private const string Upsert = "INSERT INTO spin_key_value (store, key, value) VALUES ($store, $key, $value) ON CONFLICT(store, key) DO UPDATE SET value = $value";

    public ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        new(database.Run(c => Get(c, key)));

    public async ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        await database.WriteAsync(c => Execute(c, Upsert, key, value)).ConfigureAwait(false);

    public async ValueTask DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        await database.WriteAsync(c => Execute(c, "DELETE FROM spin_key_value WHERE store = $store AND key = $key", key)).ConfigureAwait(false);

    public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        new(database.Run(c =>
        {
            var cmd = Command(c, "SELECT 1 FROM spin_key_value WHERE store = $store AND key = $key", key);
            return cmd.ExecuteScalar() is not null;
        }));

    public ValueTask<IReadOnlyList<string>> GetKeysAsync(CancellationToken cancellationToken = default) =>
        new(database.Run<IReadOnlyList<string>>(c =>
        {
            var cmd = Command(c, "SELECT key FROM spin_key_value WHERE store = $store");
            using var r = cmd.ExecuteReader();
            var keys = new List<string>();
            while (r.Read()) keys.Add(r.GetString(0));
            return keys;
        }));

    public ValueTask<long> IncrementAsync(string key, long delta, CancellationToken cancellationToken = default) =>
        new(database.WriteAsync(c =>
        {
            // On the writer, inside its write transaction: no other write runs between the read and the upsert.
            var current = Get(c, key) switch
            {
                null => 0L,
                { Length: 8 } bytes => BinaryPrimitives.ReadInt64LittleEndian(bytes),
                var other => throw new KeyValueException($"the value of '{key}' is not a counter (Spin keeps counters as 8 bytes little-endian; it has {other.Length} bytes)"),
            };
            var next = unchecked(current + delta);
            var buffer = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(buffer, next);
            Execute(c, Upsert, key, buffer);
            return next;
        }));

    public ValueTask<IReadOnlyList<byte[]?>> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        new(database.Run<IReadOnlyList<byte[]?>>(c => keys.Select(k => Get(c, k)).ToArray()));

    public async ValueTask SetManyAsync(IReadOnlyList<KeyValuePair<string, byte[]>> pairs, CancellationToken cancellationToken = default) =>
        await database.WriteAsync(c =>
        {
            foreach (var (k, v) in pairs) Execute(c, Upsert, k, v);
            return 0;
        }).ConfigureAwait(false);

    public async ValueTask DeleteManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        await database.WriteAsync(c =>
        {
            foreach (var k in keys) Execute(c, "DELETE FROM spin_key_value WHERE store = $store AND key = $key", k);
            return 0;
        }).ConfigureAwait(false);

    public ValueTask<bool> SwapAsync(string key, SwapExpectation expected, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        new(database.WriteAsync(c => expected switch
        {
            { WasRead: false } => Execute(c, Upsert, key, value) == 1,
            { Value: null } => Execute(c, "INSERT INTO spin_key_value (store, key, value) VALUES ($store, $key, $value) ON CONFLICT(store, key) DO NOTHING", key, value) == 1,
            { Value: { } old } => Execute(c, "UPDATE spin_key_value SET value = $value WHERE store = $store AND key = $key AND value = $old", key, value, old) == 1,
        }));

    private byte[]? Get(SqliteSession c, string key)
    {
        var cmd = Command(c, "SELECT value FROM spin_key_value WHERE store = $store AND key = $key", key);
        return cmd.ExecuteScalar() as byte[];
    }

    private int Execute(SqliteSession c, string sql, string key, ReadOnlyMemory<byte>? value = null, byte[]? old = null)
    {
        var cmd = Command(c, sql, key, value, old);
        return cmd.ExecuteNonQuery();
    }

    private SqliteCommand Command(SqliteSession c, string sql, string? key = null, ReadOnlyMemory<byte>? value = null, byte[]? old = null)
    {
        var cmd = c.Statement(sql);
        cmd.Parameters.AddWithValue("$store", label);
        if (key is not null) cmd.Parameters.AddWithValue("$key", key);
        // Spin's column is NOT NULL: an empty value is an empty blob, never NULL.
        if (value is { } v) cmd.Parameters.Add("$value", SqliteType.Blob).Value = v.ToArray();
        if (old is not null) cmd.Parameters.Add("$old", SqliteType.Blob).Value = old;
        return cmd;
    }
}
