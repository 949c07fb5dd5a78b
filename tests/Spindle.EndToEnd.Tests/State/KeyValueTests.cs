using System.Buffers.Binary;
using Microsoft.Data.Sqlite;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;
using Spindle.Testing;
using static Spindle.EndToEnd.Tests.State.KeyValueScript;

namespace Spindle.EndToEnd.Tests.State;

/// <summary>
/// Spin's key-value interfaces from a real JavaScript component (<c>js-spin/kv.js</c>) on the default store: a
/// SQLite file in <c>.spin/</c>, in Spin's layout.
/// </summary>
public sealed class KeyValueTests(SharedRuntime runtime) : IDisposable
{
    private readonly TestApp _app = Create();

    private static TestApp Create(string stores = "[\"default\"]")
    {
        var app = new TestApp($"""
        spin_manifest_version = 2
        [application]
        name = "kv"
        [[trigger.http]]
        route = "/..."
        component = "kv"
        [component.kv]
        source = "kv.wasm"
        key_value_stores = {stores}
        """);
        app.WriteFile("kv.wasm", File.ReadAllBytes(Paths.Fixture("js-spin/kv.wasm")));
        return app;
    }

    public void Dispose() => _app.Dispose();

    private string DefaultDatabase => Path.Combine(_app.Dir, ".spin", "sqlite_key_value.db");

    [Theory]
    [InlineData("spin")]
    [InlineData("wasi")]
    public async Task Keys_and_values_round_trip_exactly(string api)
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var binary = new byte[] { 0, 0xff, 0x80, 0x0a, 0x0d, 0 };
        var big = new byte[1 << 20];
        new Random(7).NextBytes(big);
        const string unicode = "ключ ✓ 鍵";
        var r = await OkAsync(client, api, "default",
            Set("empty", []), Set("binary", binary), Set(unicode, "value"u8.ToArray()), Set("big", big),
            Get("empty"), Get("binary"), Get(unicode), Get("big"), Get("missing"),
            Exists("binary"), Exists("missing"), Keys(),
            Delete("binary"), Delete("never-there"), Exists("binary"), Get("binary"));
        Assert.Equal([], Bytes(r[4])!);
        Assert.Equal(binary, Bytes(r[5]));
        Assert.Equal("value"u8.ToArray(), Bytes(r[6]));
        Assert.Equal(big, Bytes(r[7]));
        Assert.Null(r[8]);
        Assert.True(r[9]!.GetValue<bool>());
        Assert.False(r[10]!.GetValue<bool>());
        Assert.Equal(new[] { "big", "binary", "empty", unicode }.Order(StringComparer.Ordinal), r[11]!.AsArray().Select(k => k!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.False(r[14]!.GetValue<bool>());
        Assert.Null(r[15]);
    }

    [Theory]
    [InlineData("spin", "other")]
    [InlineData("wasi", "other")]
    [InlineData("spin", "")]
    public async Task A_store_the_component_does_not_list_is_access_denied(string api, string label)
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var answer = await RunAsync(client, api, label, Get("k"));
        Assert.Equal("access-denied", answer["open"]?["err"]?.GetValue<string>());
    }

    [Fact]
    public async Task A_label_without_a_store_is_a_startup_error_naming_it_and_the_component()
    {
        using var app = Create("[\"default\", \"cache\"]");
        var e = await Assert.ThrowsAsync<SpindleStartupException>(() => app.StartAsync(runtime));
        Assert.Contains("\"cache\"", e.Message);
        Assert.Contains("\"kv\"", e.Message);
    }

    [Fact]
    public async Task The_default_store_is_Spins_file_and_table_read_and_written_both_ways()
    {
        // A row written as Spin writes it, before Spindle starts.
        Directory.CreateDirectory(Path.GetDirectoryName(DefaultDatabase)!);
        using (var c = new SqliteConnection($"Data Source={DefaultDatabase};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = """
                CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key));
                INSERT INTO spin_key_value (store, key, value) VALUES ('default', 'from-spin', x'0102');
                """;
            cmd.ExecuteNonQuery();
        }
        await using (var host = await _app.StartAsync(runtime))
        {
            using var client = TestApp.Client(host.BaseUrl);
            var r = await OkAsync(client, "spin", "default", Get("from-spin"), Set("from-spindle", [9, 8, 7]));
            Assert.Equal(new byte[] { 1, 2 }, Bytes(r[0]));
            // (ComponentizeJS 0.22 aborts on a negative s64 argument, so the deltas stay positive.)
            var n = await OkAsync(client, "wasi", "default", Increment("counter", 5), Increment("counter", 2));
            Assert.Equal(7, n[1]!.GetValue<long>());
        }
        using (var c = new SqliteConnection($"Data Source={DefaultDatabase};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT key, value FROM spin_key_value WHERE store = 'default' ORDER BY key";
            using var rows = cmd.ExecuteReader();
            var found = new Dictionary<string, byte[]>();
            while (rows.Read()) found[rows.GetString(0)] = (byte[])rows.GetValue(1);
            Assert.Equal(new byte[] { 9, 8, 7 }, found["from-spindle"]);
            // Spin keeps counters as 8 bytes little-endian.
            Assert.Equal(7, BinaryPrimitives.ReadInt64LittleEndian(found["counter"]));
        }
    }

    [Fact]
    public async Task Values_survive_a_server_restart()
    {
        await using (var first = await _app.StartAsync(runtime))
        {
            using var client = TestApp.Client(first.BaseUrl);
            await OkAsync(client, "spin", "default", Set("kept", [1, 2, 3]));
            await OkAsync(client, "wasi", "default", Increment("visits", 4));
        }
        await using var second = await _app.StartAsync(runtime);
        using var again = TestApp.Client(second.BaseUrl);
        var r = await OkAsync(again, "wasi", "default", Get("kept"), Increment("visits", 1));
        Assert.Equal(new byte[] { 1, 2, 3 }, Bytes(r[0]));
        Assert.Equal(5, r[1]!.GetValue<long>());
    }

    [Fact]
    public async Task The_benchmark_component_written_in_WAT_gets_and_sets_through_the_same_stores()
    {
        // tests/fixtures/wat/kv-bench.wat: GET /kv reads "visits" and sets it to that + 1 (8 bytes little-endian).
        _app.WriteFile("kv.wasm", File.ReadAllBytes(Paths.Fixture("wat/kv-bench.wasm")));
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var cancel = TestContext.Current.CancellationToken;
        Assert.Equal("Hello, world!\n", await client.GetStringAsync("/hello", cancel));
        for (var expected = 1L; expected <= 3; expected++)
            Assert.Equal(expected, BinaryPrimitives.ReadInt64LittleEndian(await client.GetByteArrayAsync("/kv", cancel)));
        // Readers run on pooled connections beside the writer: 40 at once all answer.
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetAsync("/kv", cancel)));
        Assert.All(answers, a => Assert.Equal(System.Net.HttpStatusCode.OK, a.StatusCode));
        // The store outside the component's list traps the guest: 500, and the server goes on.
        Assert.Equal(System.Net.HttpStatusCode.InternalServerError, (await client.GetAsync("/kv?shared", cancel)).StatusCode);
        await using var db = new SqliteConnection($"Data Source={DefaultDatabase};Mode=ReadOnly;Pooling=False");
        db.Open();
        using var read = db.CreateCommand();
        read.CommandText = "SELECT value FROM spin_key_value WHERE store = 'default' AND key = 'visits'";
        var stored = BinaryPrimitives.ReadInt64LittleEndian((byte[])read.ExecuteScalar()!);
        Assert.InRange(stored, 4, 43); // parallel get-then-set pairs may overwrite each other: the guest's race, not a lost write
    }

    [Fact]
    public async Task Parallel_increments_and_writes_lose_no_update()
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        const int Requests = 150, PerRequest = 5;
        using var gate = new SemaphoreSlim(50); // 50 requests at once, as the issue asks
        await Task.WhenAll(Enumerable.Range(0, Requests).Select(async i =>
        {
            await gate.WaitAsync(TestContext.Current.CancellationToken);
            try
            {
                await OkAsync(client, "wasi", "default",
                    [.. Enumerable.Range(0, PerRequest).Select(_ => Increment("hits", 1)), Set($"writer-{i}", BitConverter.GetBytes(i))]);
            }
            finally
            {
                gate.Release();
            }
        }));
        var r = await OkAsync(client, "wasi", "default", Increment("hits", 0), Keys());
        Assert.Equal(Requests * PerRequest, r[0]!.GetValue<long>());
        Assert.Equal(Requests + 1, r[1]!.AsArray().Count);
    }

    [Fact]
    public async Task Compare_and_swap_fails_when_another_writer_changed_the_value()
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var r = await OkAsync(client, "wasi", "default",
            Cas("k", [1], read: true),   // absent and still absent: swaps
            Cas("k", [2], read: true),   // reads 01, swaps to 02
            Get("k"));
        Assert.True(r[0]!["swapped"]!.GetValue<bool>());
        Assert.Equal("01", r[1]!["read"]!.GetValue<string>());
        Assert.True(r[1]!["swapped"]!.GetValue<bool>());
        Assert.Equal(new byte[] { 2 }, Bytes(r[2]));

        // Another writer changes the value between the read and the swap: the swap fails and leaves that value.
        var raced = await OkAsync(client, "wasi", "default", Cas("k", [4], read: true, between: [3]), Get("k"));
        Assert.False(raced[0]!["swapped"]!.GetValue<bool>());
        Assert.Equal("cas-failed", raced[0]!["err"]!.GetValue<string>());
        Assert.Equal(new byte[] { 3 }, Bytes(raced[1]));
        // Without a read, the swap is unconditional, as in Spin.
        var blind = await OkAsync(client, "wasi", "default", Cas("k", [5], read: false, between: [6]), Get("k"));
        Assert.True(blind[0]!["swapped"]!.GetValue<bool>());
        Assert.Equal(new byte[] { 5 }, Bytes(blind[1]));
    }

    [Fact]
    public async Task Batches_get_set_and_delete_many_keys()
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var r = await OkAsync(client, "wasi", "default",
            SetMany(("a", [1]), ("b", []), ("c", [3])),
            GetMany("a", "b", "missing", "c"),
            DeleteMany("a", "missing"),
            GetMany("a", "c"),
            GetMany());
        var got = r[1]!.AsArray();
        Assert.Equal(["a", "b", "missing", "c"], got.Select(p => p![0]!.GetValue<string>()));
        Assert.Equal(new byte[] { 1 }, Bytes(got[0]![1]));
        Assert.Equal([], Bytes(got[1]![1])!);
        Assert.Null(got[2]![1]);
        Assert.Null(r[3]!.AsArray()[0]![1]);
        Assert.Equal(new byte[] { 3 }, Bytes(r[3]!.AsArray()[1]![1]));
        Assert.Empty(r[4]!.AsArray());
    }

    [Fact]
    public async Task Key_value_seeds_are_in_the_default_store_before_serving()
    {
        await using var host = await _app.StartAsync(runtime, configure: o => o with { KeyValueSeeds = [new("greeting", "héllo"), new("n", "1")] });
        using var client = TestApp.Client(host.BaseUrl);
        var r = await OkAsync(client, "spin", "default", Get("greeting"), Get("n"));
        Assert.Equal("héllo"u8.ToArray(), Bytes(r[0]));
        Assert.Equal("1"u8.ToArray(), Bytes(r[1]));
    }

    [Fact]
    public async Task A_spin_store_mapped_in_the_runtime_config_is_its_own_file_and_state_dir_moves_default()
    {
        using var app = Create("[\"default\", \"cache\"]");
        var config = app.WriteFile("runtime-config.toml", """
            state_dir = "state"
            [key_value_store.cache]
            type = "spin"
            path = "data/cache.db"
            """);
        await using (var host = await app.StartAsync(runtime, configure: o => o with { RuntimeConfigPath = config }))
        {
            using var client = TestApp.Client(host.BaseUrl);
            await OkAsync(client, "spin", "cache", Set("k", [1]));
            await OkAsync(client, "spin", "default", Set("k", [2]));
            var r = await OkAsync(client, "spin", "cache", Get("k"));
            Assert.Equal(new byte[] { 1 }, Bytes(r[0]));
        }
        Assert.True(File.Exists(Path.Combine(app.Dir, "data", "cache.db")));
        Assert.True(File.Exists(Path.Combine(app.Dir, "state", "sqlite_key_value.db")));
        Assert.False(Directory.Exists(Path.Combine(app.Dir, ".spin")));
    }

    [Fact]
    public async Task A_store_file_that_cannot_be_opened_is_a_startup_error_naming_the_store_and_path()
    {
        _app.WriteFile("not-a-database.db", "plain text, not SQLite");
        var config = _app.WriteFile("runtime-config.toml", """
            [key_value_store.default]
            type = "spin"
            path = "not-a-database.db"
            """);
        var e = await Assert.ThrowsAsync<SpindleStartupException>(() => _app.StartAsync(runtime, configure: o => o with { RuntimeConfigPath = config }));
        Assert.Contains("\"default\"", e.Message);
        Assert.Contains(Path.Combine(_app.Dir, "not-a-database.db"), e.Message);
    }

    [Fact]
    public async Task An_unknown_store_type_in_the_runtime_config_names_file_key_and_value()
    {
        var config = _app.WriteFile("runtime-config.toml", """
            [key_value_store.default]
            type = "dynamo"
            """);
        var e = await Assert.ThrowsAsync<SpindleStartupException>(() => _app.StartAsync(runtime, configure: o => o with { RuntimeConfigPath = config }));
        Assert.Contains("runtime-config.toml", e.Message);
        Assert.Contains("key_value_store.default.type", e.Message);
        Assert.Contains("dynamo", e.Message);
    }
}
