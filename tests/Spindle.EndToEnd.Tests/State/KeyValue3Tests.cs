using System.Net;
using Microsoft.Data.Sqlite;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Testing;
using Spindle.Wasmtime;

namespace Spindle.EndToEnd.Tests.State;

/// <summary>
/// <c>spin:key-value/key-value@3.0.0</c> (component-model <c>async func</c>s) from a hand-written wasi:http 0.2
/// component (<c>tests/fixtures/wat/kv3.wat</c>, compiled here) that calls open/get/set/delete/exists with
/// <c>canon lower async</c>: the same stores, errors and permissions as <c>fermyon:spin/key-value@2.0.0</c>.
/// </summary>
public sealed class KeyValue3Tests(SharedRuntime runtime) : IDisposable
{
    private readonly TestApp _app = Create();

    private static TestApp Create()
    {
        var app = new TestApp("""
        spin_manifest_version = 2
        [application]
        name = "kv3"
        [[trigger.http]]
        route = "/..."
        component = "kv3"
        [component.kv3]
        source = "kv3.wasm"
        key_value_stores = ["default"]
        """);
        app.WriteFile("kv3.wasm", Wat.ToWasm(File.ReadAllText(Path.Combine(Paths.FixtureSources, "wat", "kv3.wat"))));
        return app;
    }

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task Values_round_trip_through_async_lowered_calls_into_the_default_store()
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var cancel = TestContext.Current.CancellationToken;
        Task<string> Get(string path) => client.GetStringAsync(path, cancel);

        Assert.Equal("none", await Get("/g"));
        Assert.Equal("0", await Get("/e"));
        Assert.Equal("set", await Get("/s?first-value"));
        Assert.Equal("first-value", await Get("/g"));
        Assert.Equal("1", await Get("/e"));
        Assert.Equal("set", await Get("/s?second"));
        Assert.Equal("second", await Get("/g"));

        // The same SQLite store (and layout) that fermyon:spin/key-value@2.0.0 uses.
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(_app.Dir, ".spin", "sqlite_key_value.db")};Mode=ReadOnly;Pooling=False"))
        {
            db.Open();
            using var read = db.CreateCommand();
            read.CommandText = "SELECT value FROM spin_key_value WHERE store = 'default' AND key = 'k'";
            Assert.Equal("second"u8.ToArray(), (byte[])read.ExecuteScalar()!);
        }

        Assert.Equal("deleted", await Get("/d"));
        Assert.Equal("0", await Get("/e"));
        Assert.Equal("none", await Get("/g"));
        Assert.Equal("deleted", await Get("/d")); // deleting a missing key is not an error
    }

    [Fact]
    public async Task Get_keys_streams_every_key_and_its_future_holds_ok()
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var cancel = TestContext.Current.CancellationToken;
        Assert.Equal("", await client.GetStringAsync("/k", cancel)); // an empty store: the first read reports DROPPED
        // Five keys: the guest reads two at a time, so the last read of elements copies one.
        foreach (var key in new[] { "alpha", "beta", "gamma", "k\u00fc" })
            Assert.Equal("set", await client.GetStringAsync($"/t?{key}", cancel));
        Assert.Equal("set", await client.GetStringAsync("/s?value", cancel));
        var keys = (await client.GetStringAsync("/k", cancel)).Split('\n');
        Assert.Equal("", keys[^1]);
        Assert.Equal(new[] { "alpha", "beta", "gamma", "k", "k%C3%BC" }, keys[..^1].Order(StringComparer.Ordinal));
        Assert.Equal("deleted", await client.GetStringAsync("/d", cancel));
        Assert.Equal(4, (await client.GetStringAsync("/k", cancel)).Split('\n').Length - 1);
    }

    [Fact]
    public async Task A_store_the_component_does_not_list_is_access_denied()
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        Assert.Equal("2", await client.GetStringAsync("/x", TestContext.Current.CancellationToken)); // error case 2: access-denied
    }

    [Fact]
    public async Task Concurrent_requests_each_complete_their_async_lowered_calls()
    {
        await using var host = await _app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);
        var cancel = TestContext.Current.CancellationToken;
        Assert.Equal("set", await client.GetStringAsync("/s?shared", cancel));
        var answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => client.GetAsync(i % 3 == 0 ? "/w" : "/g", cancel)));
        foreach (var (answer, i) in answers.Select((a, i) => (a, i)))
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(i % 3 == 0 ? "0" : "shared", await answer.Content.ReadAsStringAsync(cancel)); // /w: poll found no event
        }
    }
}
