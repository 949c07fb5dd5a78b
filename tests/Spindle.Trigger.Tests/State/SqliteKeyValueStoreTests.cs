using Microsoft.Data.Sqlite;
using Spindle.Spin.KeyValue;

namespace Spindle.Trigger.Tests.State;

/// <summary>
/// The SQLite store's statements (run through SQLite's own calls, keys bound as UTF-8 text): keys and values round-trip
/// exactly, whatever their length or content, and land in the file as Spin writes them (text keys, blob values).
/// </summary>
public sealed class SqliteKeyValueStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spindle-kv-store-").FullName;

    private string DbPath => Path.Combine(_dir, "sqlite_key_value.db");

    public static TheoryData<string> Keys => new()
    {
        "",
        "visits",
        "héllo-ключ-🔑",
        "with\0nul",
        new string('k', 600), // over the 512 bytes encoded on the stack
        string.Concat(Enumerable.Repeat("é🔑", 300)),
    };

    [Theory]
    [MemberData(nameof(Keys))]
    public async Task KeysRoundTripExactlyAndAreStoredAsText(string key)
    {
        var ct = TestContext.Current.CancellationToken;
        using (var db = new SqliteKeyValueDatabase(DbPath))
        {
            var store = db.Store("default");
            Assert.False(await store.ExistsAsync(key, ct));
            await store.SetAsync(key, "v"u8.ToArray(), ct);
            Assert.True(await store.ExistsAsync(key, ct));
            Assert.Equal("v"u8.ToArray(), await store.GetAsync(key, ct));
            Assert.Equal([key], await store.GetKeysAsync(ct));
            Assert.Null(await db.Store("other").GetAsync(key, ct));
        }
        using var c = new SqliteConnection($"Data Source={DbPath}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT typeof(key), length(CAST(key AS BLOB)), typeof(value) FROM spin_key_value WHERE store = 'default'";
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read());
        Assert.Equal("text", r.GetString(0));
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(key), r.GetInt64(1));
        Assert.Equal("blob", r.GetString(2));
    }

    [Fact]
    public async Task ValuesRoundTripExactly()
    {
        var ct = TestContext.Current.CancellationToken;
        using var db = new SqliteKeyValueDatabase(DbPath);
        var store = db.Store("default");
        var big = new byte[1024 * 1024];
        new Random(7).NextBytes(big);
        byte[][] values = [[], [0], [0, 0xff, 0, 0x80], big];
        foreach (var (value, i) in values.Select((v, i) => (v, i))) await store.SetAsync($"k{i}", value, ct);
        foreach (var (value, i) in values.Select((v, i) => (v, i))) Assert.Equal(value, await store.GetAsync($"k{i}", ct));
        Assert.Equal(values, await store.GetManyAsync([.. values.Select((_, i) => $"k{i}")], ct));
        await store.DeleteAsync("k1", ct);
        Assert.Null(await store.GetAsync("k1", ct));
        Assert.False(await store.ExistsAsync("k1", ct));
    }

    [Fact]
    public async Task SwapWritesOnlyWhenTheValueIsStillTheOneRead()
    {
        var ct = TestContext.Current.CancellationToken;
        using var db = new SqliteKeyValueDatabase(DbPath);
        var store = db.Store("default");
        Assert.True(await store.SwapAsync("k", new SwapExpectation(true, null), "a"u8.ToArray(), ct));
        Assert.False(await store.SwapAsync("k", new SwapExpectation(true, null), "b"u8.ToArray(), ct));
        Assert.False(await store.SwapAsync("k", new SwapExpectation(true, "x"u8.ToArray()), "b"u8.ToArray(), ct));
        Assert.True(await store.SwapAsync("k", new SwapExpectation(true, "a"u8.ToArray()), "b"u8.ToArray(), ct));
        Assert.True(await store.SwapAsync("k", SwapExpectation.Unconditional, "c"u8.ToArray(), ct));
        Assert.Equal("c"u8.ToArray(), await store.GetAsync("k", ct));
    }

    [Fact]
    public async Task AnInMemoryStoreServesReadsWhileItsWriterCommits()
    {
        // Spin's `type = "spin"` without a path: one shared-cache memory database, where a read of a table the writer
        // holds is refused as locked (the busy timeout does not apply) until the write commits.
        var ct = TestContext.Current.CancellationToken;
        using var db = new SqliteKeyValueDatabase(null);
        var store = db.Store("default");
        var workers = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 300; i++)
            {
                await store.SetAsync($"k{t}", BitConverter.GetBytes(i), ct);
                Assert.Equal(i, BitConverter.ToInt32((await store.GetAsync($"k{t}", ct))!));
                await store.IncrementAsync("n", 1, ct);
            }
        }, ct)).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.Equal(2400, await store.IncrementAsync("n", 0, ct));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
