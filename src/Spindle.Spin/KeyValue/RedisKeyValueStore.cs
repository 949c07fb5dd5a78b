using StackExchange.Redis;

namespace Spindle.Spin.KeyValue;

/// <summary>
/// A key-value store on a Redis server, in Spin's layout (<c>key-value-redis</c>): keys are used verbatim (no
/// prefix: every label on one server shares its keyspace), values are stored as raw bytes, counters are
/// <c>INCRBY</c> text. Several Spindle (or Spin) servers pointed at one Redis share their state.
/// <para>
/// The connection reconnects by itself: while the server is down, operations fail with a
/// <see cref="KeyValueException"/> (the guest gets <c>other</c>), and they work again once it is back.
/// </para>
/// </summary>
public sealed class RedisKeyValueStore : IKeyValueStore, IDisposable
{
    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _db;

    private RedisKeyValueStore(ConnectionMultiplexer redis, string url, int database)
    {
        _redis = redis;
        Url = url;
        _db = redis.GetDatabase(database);
    }

    /// <summary>The server URL.</summary>
    public string Url { get; }

    /// <summary>Connects to <paramref name="url"/> (<c>redis://[user:password@]host[:port][/db]</c>, or <c>rediss://</c> for TLS).</summary>
    /// <exception cref="KeyValueException">The URL is invalid or the server cannot be reached within the connect timeout.</exception>
    public static async Task<RedisKeyValueStore> ConnectAsync(string url, TimeSpan? connectTimeout = null)
    {
        var (options, database) = Options(url);
        options.ConnectTimeout = (int)(connectTimeout ?? TimeSpan.FromSeconds(5)).TotalMilliseconds;
        options.AbortOnConnectFail = false; // keep reconnecting after a later outage
        var redis = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        var store = new RedisKeyValueStore(redis, url, database);
        try
        {
            await store._db.PingAsync().ConfigureAwait(false);
        }
        catch (RedisException e)
        {
            var why = store.Brief(e);
            store.Dispose();
            throw new KeyValueException($"cannot reach Redis at {url}: {why} within {options.ConnectTimeout} ms", e);
        }
        return store;
    }

    private static (ConfigurationOptions Options, int Database) Options(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host.Length == 0)
            throw new KeyValueException($"invalid Redis URL {url}: expected redis://host[:port][/db]");
        var options = new ConfigurationOptions { Ssl = u.Scheme == "rediss" };
        options.EndPoints.Add(u.Host, u.IsDefaultPort ? 6379 : u.Port);
        if (u.UserInfo.Length > 0)
        {
            var parts = u.UserInfo.Split(':', 2);
            if (parts.Length == 2)
            {
                if (parts[0].Length > 0) options.User = Uri.UnescapeDataString(parts[0]);
                options.Password = Uri.UnescapeDataString(parts[1]);
            }
            else options.Password = Uri.UnescapeDataString(parts[0]);
        }
        var path = u.AbsolutePath.Trim('/');
        var database = path.Length == 0 ? 0
            : int.TryParse(path, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n
            : throw new KeyValueException($"invalid Redis URL {url}: the path must be a database number");
        return (options, database);
    }

    /// <inheritdoc />
    public async ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        await Run(async () => (byte[]?)await _db.StringGetAsync(key).ConfigureAwait(false)).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        await Run(() => _db.StringSetAsync(key, value)).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        await Run(() => _db.KeyDeleteAsync(key)).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        await Run(() => _db.KeyExistsAsync(key)).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> GetKeysAsync(CancellationToken cancellationToken = default) =>
        await Run(async () =>
        {
            var keys = new List<string>();
            var server = _redis.GetServer(_redis.GetEndPoints()[0]);
            await foreach (var k in server.KeysAsync(_db.Database, "*").ConfigureAwait(false)) keys.Add(k!);
            return (IReadOnlyList<string>)keys;
        }).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<long> IncrementAsync(string key, long delta, CancellationToken cancellationToken = default) =>
        await Run(() => _db.StringIncrementAsync(key, delta)).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<byte[]?>> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        await Run(async () =>
        {
            var values = await _db.StringGetAsync(keys.Select(k => (RedisKey)k).ToArray()).ConfigureAwait(false);
            return (IReadOnlyList<byte[]?>)values.Select(v => (byte[]?)v).ToArray();
        }).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask SetManyAsync(IReadOnlyList<KeyValuePair<string, byte[]>> pairs, CancellationToken cancellationToken = default) =>
        await Run(() => _db.StringSetAsync(pairs.Select(p => new KeyValuePair<RedisKey, RedisValue>(p.Key, p.Value)).ToArray())).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask DeleteManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        await Run(() => _db.KeyDeleteAsync(keys.Select(k => (RedisKey)k).ToArray())).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<bool> SwapAsync(string key, SwapExpectation expected, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        await Run(async () =>
        {
            if (!expected.WasRead) return await _db.StringSetAsync(key, value).ConfigureAwait(false);
            // WATCH/MULTI/EXEC under the hood: the SET happens only if the value is still the one read.
            var tx = _db.CreateTransaction();
            tx.AddCondition(expected.Value is { } old ? Condition.StringEqual(key, old) : Condition.KeyNotExists(key));
            _ = tx.StringSetAsync(key, value);
            return await tx.ExecuteAsync().ConfigureAwait(false);
        }).ConfigureAwait(false);

    private async Task<T> Run<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw new KeyValueException($"Redis at {Url}: {Brief(e)}", e);
        }
    }

    // StackExchange.Redis appends a page of connection diagnostics to its messages: say what happened in a few words.
    private string Brief(Exception e) =>
        !_redis.IsConnected ? "no connection to the server" : e.Message.Split(" - ", 2)[0].Split(" (see ", 2)[0];

    /// <inheritdoc />
    public void Dispose() => _redis.Dispose();
}
