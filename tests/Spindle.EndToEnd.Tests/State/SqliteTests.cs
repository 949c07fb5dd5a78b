using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;
using Spindle.Testing;

namespace Spindle.EndToEnd.Tests.State;

/// <summary>
/// Spin's SQLite interfaces (<c>fermyon:spin/sqlite@2.0.0</c>, <c>spin:sqlite/sqlite@3.0.0</c>) from a real
/// JavaScript component (<c>js-spin/sqlite.js</c>) on the default database, <c>.spin/sqlite_db.db</c>.
/// </summary>
public sealed class SqliteTests(SharedRuntime runtime) : IDisposable
{
    private readonly TestApp _app = Create();

    private static TestApp Create(string databases = "[\"default\"]")
    {
        var app = new TestApp($"""
        spin_manifest_version = 2
        [application]
        name = "db"
        [[trigger.http]]
        route = "/..."
        component = "db"
        [component.db]
        source = "db.wasm"
        sqlite_databases = {databases}
        """);
        app.WriteFile("db.wasm", File.ReadAllBytes(Paths.Fixture("js-spin/sqlite.wasm")));
        return app;
    }

    public void Dispose() => _app.Dispose();

    private static JsonObject Sql(string sql, params JsonArray[] parameters) => new() { ["sql"] = sql, ["params"] = new JsonArray([.. parameters]) };

    private static JsonArray V(string tag, JsonNode? value = null) => value is null ? [tag] : [tag, value];

    private static async Task<JsonObject> RunAsync(HttpClient client, string api, string db, params JsonObject[] statements)
    {
        var body = new JsonObject { ["api"] = api, ["db"] = db, ["statements"] = new JsonArray([.. statements]) };
        using var response = await client.PostAsJsonAsync("/", body, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static JsonNode Result(JsonObject answer, int i) => answer["results"]![i]!;

    [Theory]
    [InlineData("2")]
    [InlineData("3")]
    public async Task Values_of_every_type_round_trip_by_their_storage_class(string api)
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var a = await RunAsync(client, api, "default",
            Sql("CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)"),
            Sql("INSERT INTO t (i, r, s, b, n) VALUES (?, ?, ?, ?, ?)",
                V("integer", "-9223372036854775808"), V("real", 2.5), V("text", "héllo ✓"), V("blob", "00ff0d0a"), V("null")),
            Sql("SELECT i, r, s, b, n, 42 AS answer FROM t"),
            Sql("SELECT s FROM t WHERE 0"));
        Assert.Empty(Result(a, 0)["columns"]!.AsArray());
        Assert.Empty(Result(a, 1)["rows"]!.AsArray());
        var select = Result(a, 2);
        Assert.Equal(["i", "r", "s", "b", "n", "answer"], select["columns"]!.AsArray().Select(c => c!.GetValue<string>()));
        var row = select["rows"]![0]!.AsArray();
        Assert.Equal("""[["integer","-9223372036854775808"],["real",2.5],["text","héllo ✓"],["blob","00ff0d0a"],["null"],["integer","42"]]""",
            row.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        // A query without rows still names its columns.
        Assert.Equal(["s"], Result(a, 3)["columns"]!.AsArray().Select(c => c!.GetValue<string>()));
        if (api == "3")
        {
            Assert.Equal("1", Result(a, 1)["lastInsertRowid"]!.GetValue<string>());
            Assert.Equal("1", Result(a, 1)["changes"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Errors_are_io_with_SQLites_message_and_unlisted_databases_are_access_denied()
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var a = await RunAsync(client, "2", "default",
            Sql("SELEC nonsense"),
            Sql("CREATE TABLE u (id INTEGER PRIMARY KEY)"),
            Sql("INSERT INTO u (id) VALUES (?)", V("integer", "1")),
            Sql("INSERT INTO u (id) VALUES (?)", V("integer", "1")),
            Sql("SELECT ?"));
        Assert.Equal("io", Result(a, 0)["err"]!.GetValue<string>());
        Assert.Contains("syntax error", Result(a, 0)["message"]!.GetValue<string>());
        Assert.Contains("UNIQUE constraint failed", Result(a, 3)["message"]!.GetValue<string>());
        Assert.Contains("Wrong number of parameters", Result(a, 4)["message"]!.GetValue<string>());

        var denied = await RunAsync(client, "3", "other");
        Assert.Equal("access-denied", denied["open"]!["err"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_guest_cannot_reach_another_file_or_load_an_extension()
    {
        var outside = Path.Combine(_app.Dir, "outside.db");
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var a = await RunAsync(client, "2", "default",
            Sql($"ATTACH DATABASE '{outside}' AS other"),
            Sql("SELECT load_extension('/usr/lib/x86_64-linux-gnu/libm.so.6')"),
            Sql("ATTACH DATABASE ':memory:' AS scratch"));
        Assert.Equal("io", Result(a, 0)["err"]!.GetValue<string>());
        Assert.Contains("not authorized", Result(a, 0)["message"]!.GetValue<string>());
        Assert.Equal("io", Result(a, 1)["err"]!.GetValue<string>());
        Assert.Null(Result(a, 2)["err"]); // an in-memory database reaches nothing
        Assert.False(File.Exists(outside));
    }

    [Fact]
    public async Task The_default_database_is_Spins_file_and_migrations_run_before_serving()
    {
        var migration = _app.WriteFile("migration.sql", """
            CREATE TABLE IF NOT EXISTS todo (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL);
            INSERT INTO todo (title) VALUES ('from the migration file');
            """);
        await using (var host = await _app.StartAsync(runtime, configure: o => o with
        {
            SqliteStatements = ["@" + migration, "INSERT INTO todo (title) VALUES ('from --sqlite')"],
        }))
        {
            using var client = TestApp.Client(host.BaseUrl);
            var a = await RunAsync(client, "2", "default", Sql("INSERT INTO todo (title) VALUES (?)", V("text", "from the guest")), Sql("SELECT title FROM todo ORDER BY id"));
            Assert.Equal(["from the migration file", "from --sqlite", "from the guest"],
                Result(a, 1)["rows"]!.AsArray().Select(r => r![0]![1]!.GetValue<string>()));
        }
        using var c = new SqliteConnection($"Data Source={Path.Combine(_app.Dir, ".spin", "sqlite_db.db")};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM todo";
        Assert.Equal(3L, cmd.ExecuteScalar());
    }

    [Fact]
    public async Task Parallel_writers_lose_no_row()
    {
        await using var host = await _app.StartAsync(runtime, configure: o => o with { SqliteStatements = ["CREATE TABLE hits (n INTEGER)"] });
        using var client = TestApp.Client(host.BaseUrl);
        const int Requests = 80;
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(Enumerable.Range(0, Requests).Select(async i =>
        {
            await gate.WaitAsync(TestContext.Current.CancellationToken);
            try
            {
                var a = await RunAsync(client, "2", "default", Sql("INSERT INTO hits (n) VALUES (?)", V("integer", i.ToString(System.Globalization.CultureInfo.InvariantCulture))));
                Assert.Null(Result(a, 0)["err"]);
            }
            finally
            {
                gate.Release();
            }
        }));
        var count = await RunAsync(client, "2", "default", Sql("SELECT count(*), sum(n) FROM hits"));
        var row = Result(count, 0)["rows"]![0]!;
        Assert.Equal(Requests.ToString(System.Globalization.CultureInfo.InvariantCulture), row[0]![1]!.GetValue<string>());
        Assert.Equal((Requests * (Requests - 1) / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), row[1]![1]!.GetValue<string>());
    }

    [Fact]
    public async Task A_database_label_without_a_mapping_is_a_startup_error_and_a_mapped_one_is_its_own_file()
    {
        using var app = Create("[\"default\", \"analytics\"]");
        var e = await Assert.ThrowsAsync<SpindleStartupException>(() => app.StartAsync(runtime));
        Assert.Contains("\"analytics\"", e.Message);
        Assert.Contains("\"db\"", e.Message);

        var config = app.WriteFile("runtime-config.toml", """
            [sqlite_database.analytics]
            type = "spin"
            path = "data/analytics.db"
            """);
        await using (var host = await app.StartAsync(runtime, configure: o => o with { RuntimeConfigPath = config }))
        {
            using var client = TestApp.Client(host.BaseUrl);
            var a = await RunAsync(client, "2", "analytics", Sql("CREATE TABLE events (name TEXT)"));
            Assert.Null(Result(a, 0)["err"]);
        }
        Assert.True(File.Exists(Path.Combine(app.Dir, "data", "analytics.db")));
    }

    [Fact]
    public async Task A_failing_startup_statement_stops_startup_naming_it()
    {
        var e = await Assert.ThrowsAsync<SpindleStartupException>(() => _app.StartAsync(runtime, configure: o => o with { SqliteStatements = ["CREATE TABLEX broken"] }));
        Assert.Contains("CREATE TABLEX broken", e.Message);
    }
}
