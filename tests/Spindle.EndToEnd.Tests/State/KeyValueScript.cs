using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Spindle.EndToEnd.Tests.State;

/// <summary>Drives the <c>js-spin/kv.js</c> fixture: one request runs a list of key-value operations and answers each result.</summary>
internal static class KeyValueScript
{
    public static JsonObject Set(string key, byte[] value) => new() { ["op"] = "set", ["key"] = key, ["hex"] = Convert.ToHexStringLower(value) };
    public static JsonObject Get(string key) => new() { ["op"] = "get", ["key"] = key };
    public static JsonObject Delete(string key) => new() { ["op"] = "delete", ["key"] = key };
    public static JsonObject Exists(string key) => new() { ["op"] = "exists", ["key"] = key };
    public static JsonObject Keys() => new() { ["op"] = "keys" };
    public static JsonObject Increment(string key, long delta) => new() { ["op"] = "increment", ["key"] = key, ["delta"] = delta };
    public static JsonObject Cas(string key, byte[] value, bool read, byte[]? between = null)
    {
        var op = new JsonObject { ["op"] = "cas", ["key"] = key, ["hex"] = Convert.ToHexStringLower(value), ["read"] = read };
        if (between is not null) op["between"] = Convert.ToHexStringLower(between);
        return op;
    }
    public static JsonObject GetMany(params string[] keys) => new() { ["op"] = "get-many", ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k)]) };
    public static JsonObject DeleteMany(params string[] keys) => new() { ["op"] = "delete-many", ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k)]) };
    public static JsonObject SetMany(params (string Key, byte[] Value)[] pairs) => new()
    {
        ["op"] = "set-many",
        ["pairs"] = new JsonArray([.. pairs.Select(p => (JsonNode)new JsonArray(p.Key, Convert.ToHexStringLower(p.Value)))]),
    };

    /// <summary>Runs <paramref name="ops"/> through <paramref name="api"/> (<c>spin</c> or <c>wasi</c>) on <paramref name="store"/>; the answer's <c>results</c>, or <c>open</c> when the store did not open.</summary>
    public static async Task<JsonObject> RunAsync(HttpClient client, string api, string store, params JsonObject[] ops)
    {
        var body = new JsonObject { ["api"] = api, ["store"] = store, ["ops"] = new JsonArray([.. ops]) };
        using var response = await client.PostAsJsonAsync("/", body, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>The <c>ok</c> value of each result, failing on any error.</summary>
    public static async Task<JsonNode?[]> OkAsync(HttpClient client, string api, string store, params JsonObject[] ops)
    {
        var answer = await RunAsync(client, api, store, ops);
        Assert.True(answer["results"] is JsonArray, answer.ToJsonString());
        return [.. answer["results"]!.AsArray().Select(r =>
        {
            Assert.True(r!.AsObject().ContainsKey("ok"), $"operation failed: {r.ToJsonString()} in {Shorten(answer.ToJsonString())}");
            return r["ok"];
        })];
    }

    private static string Shorten(string text) => text.Length <= 2000 ? text : text[..2000] + "…";

    public static byte[]? Bytes(JsonNode? hex) => hex is null ? null : Convert.FromHexString(hex.GetValue<string>());
}
