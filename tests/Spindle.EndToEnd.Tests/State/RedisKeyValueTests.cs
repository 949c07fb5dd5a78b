using System.Diagnostics;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Hosting;
using Spindle.Testing;
using static Spindle.EndToEnd.Tests.State.KeyValueScript;

namespace Spindle.EndToEnd.Tests.State;

/// <summary>
/// Key-value stores on a real Redis server (<c>type = "redis"</c>): two Spindle servers share their state through
/// it, keys are laid out as Spin lays them out, and an outage is an error for the guest, never for the server.
/// </summary>
[Collection(nameof(RedisKeyValueTests))]
public sealed class RedisKeyValueTests(SharedRuntime runtime) : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private readonly TestApp _app = new("""
        spin_manifest_version = 2
        [application]
        name = "kv-redis"
        [[trigger.http]]
        route = "/..."
        component = "kv"
        [component.kv]
        source = "kv.wasm"
        key_value_stores = ["default", "shared"]
        """);

    public async ValueTask InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _app.WriteFile("kv.wasm", File.ReadAllBytes(Paths.Fixture("js-spin/kv.wasm")));
    }

    public ValueTask DisposeAsync()
    {
        _redis.Dispose();
        _app.Dispose();
        return ValueTask.CompletedTask;
    }

    private string Config(string url) => _app.WriteFile("runtime-config.toml", $"""
        [key_value_store.shared]
        type = "redis"
        url = "{url}"
        """);

    private Task<SpindleHost> StartAsync(string? url = null)
    {
        var config = Config(url ?? _redis.Url);
        return _app.StartAsync(runtime, configure: o => o with { RuntimeConfigPath = config });
    }

    [Theory]
    [InlineData("spin")]
    [InlineData("wasi")]
    public async Task Values_round_trip_and_keys_are_stored_verbatim(string api)
    {
        await using var host = await StartAsync();
        using var client = TestApp.Client(host.BaseUrl);
        var big = new byte[1 << 20];
        new Random(3).NextBytes(big);
        var r = await OkAsync(client, api, "shared",
            Set("empty", []), Set("bin", [0, 255, 13, 10]), Set("ключ", "v"u8.ToArray()), Set("big", big),
            Get("empty"), Get("bin"), Get("ключ"), Get("big"), Get("missing"), Exists("bin"), Keys(), Delete("bin"), Exists("bin"));
        Assert.Equal([], Bytes(r[4])!);
        Assert.Equal(new byte[] { 0, 255, 13, 10 }, Bytes(r[5]));
        Assert.Equal("v"u8.ToArray(), Bytes(r[6]));
        Assert.Equal(big, Bytes(r[7]));
        Assert.Null(r[8]);
        Assert.True(r[9]!.GetValue<bool>());
        Assert.Equal(["big", "bin", "empty", "ключ"], r[10]!.AsArray().Select(k => k!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.False(r[12]!.GetValue<bool>());
        // Spin's layout: the key itself, no prefix.
        Assert.Equal("v", await _redis.CommandAsync("GET", "ключ"));
    }

    [Fact]
    public async Task Spin_key_value_3_through_canon_lower_async_uses_the_same_Redis_layout()
    {
        // tests/fixtures/wat/kv3.wat: spin:key-value/key-value@3.0.0 on the store "default", mapped to Redis here.
        _app.WriteFile("kv.wasm", Spindle.Wasmtime.Wat.ToWasm(File.ReadAllText(Path.Combine(Paths.FixtureSources, "wat", "kv3.wat"))));
        var config = _app.WriteFile("runtime-config.toml", $"""
            [key_value_store.default]
            type = "redis"
            url = "{_redis.Url}"
            [key_value_store.shared]
            type = "redis"
            url = "{_redis.Url}"
            """);
        await using var host = await _app.StartAsync(runtime, configure: o => o with { RuntimeConfigPath = config });
        using var client = TestApp.Client(host.BaseUrl);
        var cancel = TestContext.Current.CancellationToken;
        Assert.Equal("set", await client.GetStringAsync("/s?from-kv3", cancel));
        Assert.Equal("from-kv3", await _redis.CommandAsync("GET", "k"));
        Assert.Equal("from-kv3", await client.GetStringAsync("/g", cancel));
        Assert.Equal("1", await client.GetStringAsync("/e", cancel));
        Assert.Equal("k\n", await client.GetStringAsync("/k", cancel));
        Assert.Equal("deleted", await client.GetStringAsync("/d", cancel));
        Assert.Equal("none", await client.GetStringAsync("/g", cancel));
        Assert.Equal("2", await client.GetStringAsync("/x", cancel)); // "secret" is not listed: access-denied
    }

    [Fact]
    public async Task Batches_and_compare_and_swap_work_on_Redis()
    {
        await using var host = await StartAsync();
        using var client = TestApp.Client(host.BaseUrl);
        var r = await OkAsync(client, "wasi", "shared",
            SetMany(("a", [1]), ("b", []), ("c", [3])),
            GetMany("a", "b", "missing", "c"),
            DeleteMany("a", "missing"),
            Exists("a"),
            Cas("k", [1], read: true),                 // absent and still absent: swaps
            Cas("k", [2], read: true, between: [3]),   // another writer between the read and the swap: fails
            Get("k"),
            Cas("k", [4], read: false));               // no read: unconditional, as in Spin
        var got = r[1]!.AsArray();
        Assert.Equal(["a", "b", "missing", "c"], got.Select(p => p![0]!.GetValue<string>()));
        Assert.Equal(new byte[] { 1 }, Bytes(got[0]![1]));
        Assert.Equal([], Bytes(got[1]![1])!);
        Assert.Null(got[2]![1]);
        Assert.False(r[3]!.GetValue<bool>());
        Assert.True(r[4]!["swapped"]!.GetValue<bool>());
        Assert.False(r[5]!["swapped"]!.GetValue<bool>());
        Assert.Equal("cas-failed", r[5]!["err"]!.GetValue<string>());
        Assert.Equal(new byte[] { 3 }, Bytes(r[6]));
        Assert.True(r[7]!["swapped"]!.GetValue<bool>());
        Assert.Equal("\u0004", await _redis.CommandAsync("GET", "k"));
    }

    [Fact]
    public async Task Two_servers_share_one_counter_without_losing_an_increment()
    {
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        using var ca = TestApp.Client(a.BaseUrl);
        using var cb = TestApp.Client(b.BaseUrl);
        const int PerServer = 60;
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(Enumerable.Range(0, 2 * PerServer).Select(async i =>
        {
            await gate.WaitAsync(TestContext.Current.CancellationToken);
            try { await OkAsync(i % 2 == 0 ? ca : cb, "wasi", "shared", Increment("hits", 1), Increment("hits", 2)); }
            finally { gate.Release(); }
        }));
        var total = await OkAsync(cb, "wasi", "shared", Increment("hits", 0));
        Assert.Equal(2 * PerServer * 3, total[0]!.GetValue<long>());
        // INCRBY keeps counters as decimal text, as with Spin.
        Assert.Equal((2 * PerServer * 3).ToString(System.Globalization.CultureInfo.InvariantCulture), await _redis.CommandAsync("GET", "hits"));
        var written = await OkAsync(ca, "spin", "shared", Set("from-a", [1]));
        var seen = await OkAsync(cb, "spin", "shared", Get("from-a"));
        Assert.Equal(new byte[] { 1 }, Bytes(seen[0]));
    }

    [Fact]
    public async Task Two_spindle_up_processes_sharing_one_Redis_store_see_each_others_writes_at_once()
    {
        var config = Config(_redis.Url);
        using var a = await SpindleProcess.StartAsync(_app.ManifestPath, "--runtime-config-file", config, "--key-value", "seeded=by-a");
        using var b = await SpindleProcess.StartAsync(_app.ManifestPath, "--runtime-config-file", config, "--state-dir", Path.Combine(_app.Dir, "b-state"));
        using var ca = TestApp.Client(a.BaseUrl);
        using var cb = TestApp.Client(b.BaseUrl);
        for (var i = 0; i < 10; i++)
        {
            var writer = i % 2 == 0 ? ca : cb;
            var reader = i % 2 == 0 ? cb : ca;
            await OkAsync(writer, "spin", "shared", Set("latest", [(byte)i]));
            var seen = await OkAsync(reader, "wasi", "shared", Get("latest"), Increment("rounds", 1));
            Assert.Equal(new byte[] { (byte)i }, Bytes(seen[0]));
            Assert.Equal(i + 1, seen[1]!.GetValue<long>());
        }
        // --key-value seeded a's default store (SQLite, not shared): b has its own default store.
        Assert.Equal("by-a"u8.ToArray(), Bytes((await OkAsync(ca, "spin", "default", Get("seeded")))[0]));
        Assert.Null((await OkAsync(cb, "spin", "default", Get("seeded")))[0]);
    }

    [Fact]
    public async Task A_Redis_server_down_at_start_is_one_startup_error_naming_the_store_and_url()
    {
        var url = $"redis://127.0.0.1:{RedisServer.FreePort()}";
        var e = await Assert.ThrowsAsync<SpindleStartupException>(() => StartAsync(url));
        Assert.Contains(url, e.Message);
        Assert.Contains("shared", e.Message);
    }

    [Fact]
    public async Task An_outage_is_an_error_for_the_guest_and_the_store_recovers_when_Redis_is_back()
    {
        await using var host = await StartAsync();
        using var client = TestApp.Client(host.BaseUrl);
        await OkAsync(client, "spin", "shared", Set("k", [1]));

        _redis.Stop();
        var down = await RunAsync(client, "spin", "shared", Get("k"));
        Assert.Equal("other", down["results"]![0]!["err"]!.GetValue<string>());
        Assert.Contains(_redis.Url, down["results"]![0]!["message"]!.GetValue<string>());
        // The server itself keeps serving: the SQLite default store still works.
        await OkAsync(client, "spin", "default", Set("k", [2]));

        await _redis.StartAgainAsync(); // an empty server on the same port
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var back = await RunAsync(client, "spin", "shared", Set("k", [3]), Get("k"));
            if (back["results"]![1]!["ok"] is { } v) { Assert.Equal(new byte[] { 3 }, Bytes(v)); break; }
            Assert.True(DateTime.UtcNow < deadline, $"the store did not recover: {back.ToJsonString()}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>A real <c>spindle up</c> process on a free loopback port, stopped with SIGTERM.</summary>
    private sealed class SpindleProcess : IDisposable
    {
        private readonly Process _process;

        private SpindleProcess(Process process, Uri baseUrl)
        {
            _process = process;
            BaseUrl = baseUrl;
        }

        public Uri BaseUrl { get; }

        public static async Task<SpindleProcess> StartAsync(string manifest, params string[] flags)
        {
            var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "spindle.dll"), "up", "-f", manifest, "--listen", "127.0.0.1:0", .. flags])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            var process = Process.Start(psi)!;
            var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            try
            {
                while (true)
                {
                    var line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask()
                        .WaitAsync(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken)
                        ?? throw new Xunit.Sdk.XunitException("spindle exited: " + await stderr);
                    if (line.StartsWith("Serving ", StringComparison.Ordinal))
                    {
                        _ = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken); // keep the pipe drained
                        return new SpindleProcess(process, new Uri(line["Serving ".Length..]));
                    }
                }
            }
            catch
            {
                if (!process.HasExited) process.Kill();
                process.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!) kill.WaitForExit();
                if (!_process.WaitForExit(30_000)) _process.Kill();
            }
            _process.Dispose();
        }
    }
}
