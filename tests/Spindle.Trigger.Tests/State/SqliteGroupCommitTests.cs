using System.Buffers.Binary;
using Microsoft.Data.Sqlite;
using Spindle.Spin.KeyValue;

namespace Spindle.Trigger.Tests.State;

/// <summary>
/// The SQLite key-value file's writes: committed in batches by whichever writer finds nobody committing, so these
/// check that no write is lost or left waiting, that a failing write fails alone, and what happens at close.
/// </summary>
public sealed class SqliteGroupCommitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spindle-kv-commit-").FullName;

    private string DbPath => Path.Combine(_dir, "sqlite_key_value.db");

    [Fact]
    public async Task ConcurrentIncrementsFromManyThreadsAllCountAndReachTheFile()
    {
        using (var db = new SqliteKeyValueDatabase(DbPath))
        {
            var store = db.Store("default");
            // 8 threads × 250 increments, plus plain sets in between: every write contends for the commit.
            var workers = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
            {
                for (var i = 0; i < 250; i++)
                {
                    await store.IncrementAsync("count", 1, TestContext.Current.CancellationToken);
                    await store.SetAsync($"k{t}", BitConverter.GetBytes(i), TestContext.Current.CancellationToken);
                }
            }, TestContext.Current.CancellationToken)).ToArray();
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            Assert.Equal(2000, await store.IncrementAsync("count", 0, TestContext.Current.CancellationToken));
        }
        // Committed, not only visible to this process: read the file with a fresh connection.
        using var c = new SqliteConnection($"Data Source={DbPath}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT value FROM spin_key_value WHERE store = 'default' AND key = 'count'";
        Assert.Equal(2000, BinaryPrimitives.ReadInt64LittleEndian((byte[])cmd.ExecuteScalar()!));
        cmd.CommandText = "SELECT count(*) FROM spin_key_value WHERE store = 'default' AND key LIKE 'k%'";
        Assert.Equal(8L, (long)cmd.ExecuteScalar()!);
    }

    [Fact]
    public async Task AFailingWriteFailsAloneAndTheStoreKeepsWorking()
    {
        using var db = new SqliteKeyValueDatabase(DbPath);
        var store = db.Store("default");
        var ct = TestContext.Current.CancellationToken;
        await store.SetAsync("text", "abc"u8.ToArray(), ct);
        // Alone, and among others committed in the same batches.
        var e = await Assert.ThrowsAsync<KeyValueException>(async () => await store.IncrementAsync("text", 1, ct));
        Assert.Contains("not a counter", e.Message);
        var mixed = Enumerable.Range(0, 200).Select(i => i % 10 == 0
            ? Task.Run(async () => await Assert.ThrowsAsync<KeyValueException>(async () => await store.IncrementAsync("text", 1, ct)), ct)
            : Task.Run(async () => { await store.IncrementAsync("n", 1, ct); }, ct)).ToArray();
        await Task.WhenAll(mixed).WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.Equal(180, await store.IncrementAsync("n", 0, ct));
        Assert.Equal("abc"u8.ToArray(), await store.GetAsync("text", ct));
    }

    [Fact]
    public async Task AWriteAfterCloseFailsInsteadOfWaitingForever()
    {
        var db = new SqliteKeyValueDatabase(DbPath);
        var store = db.Store("default");
        await store.SetAsync("a", new byte[] { 1 }, TestContext.Current.CancellationToken);
        db.Dispose();
        var write = store.SetAsync("b", new byte[] { 2 }, TestContext.Current.CancellationToken).AsTask();
        var e = await Assert.ThrowsAsync<KeyValueException>(() => write.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Contains("closed", e.Message);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
