using System.Text.Json;
using System.Text.RegularExpressions;
using Spindle.Testing;
using Spindle.Trigger.Http.Routing;

namespace Spindle.Wagi.Tests;

/// <summary>
/// Every route vector with <c>expect_wagi_env</c> (../shared/conformance/route-vectors.json): its route facts are
/// fed to the executor as a <see cref="RouteMatch"/>, and the real env.wasm module must see exactly the expected
/// path variables. Proves the RouteMatch → environment mapping, not the router.
/// </summary>
public sealed partial class RouteVectorEnvironmentTests
{
    private sealed record Vector(int Index, RouteMatch Route, Dictionary<string, string> Expected);

    [GeneratedRegex(":([A-Za-z0-9_]+)")]
    private static partial Regex ParamName();

    private static string ParamHeader(string name) => "spin-path-match-" + name.ToLowerInvariant().Replace('_', '-');

    private static List<Vector> LoadVectors()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Paths.Conformance, "route-vectors.json")));
        var vectors = new List<Vector>();
        var index = 0;
        foreach (var v in doc.RootElement.EnumerateArray())
        {
            index++;
            if (!v.TryGetProperty("expect_wagi_env", out var env) || env.ValueKind != JsonValueKind.Object) continue;
            var headers = v.GetProperty("expect_headers");
            string H(string name) => headers.GetProperty(name).GetString()!;
            var basePath = v.TryGetProperty("base", out var b) ? b.GetString()! : "/";
            var routerOnly = v.TryGetProperty("level", out var level) && level.GetString() == "router-only";
            var raw = H("spin-raw-component-route");
            // Parameter names come from the route as written (a ':' that is no parameter, as in "/a:b", has no
            // spin-path-match-* header); values from the matching header.
            var parameters = ParamName().Matches(raw)
                .Select(m => m.Groups[1].Value)
                .Where(name => headers.TryGetProperty(ParamHeader(name), out _))
                .Select(name => new KeyValuePair<string, string>(name, H(ParamHeader(name))))
                .ToList();
            var expected = env.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
            // Spindle supports a non-'/' base (seed docs); X_BASE_PATH is then the configured base (README point 1).
            if (routerOnly) expected["X_BASE_PATH"] = basePath;
            vectors.Add(new Vector(index, new RouteMatch(
                v.GetProperty("expect_component").GetString()!, raw, H("spin-matched-route"), H("spin-component-route"),
                H("spin-path-info"), routerOnly ? basePath : "/", parameters), expected));
        }
        return vectors;
    }

    [Fact]
    public async Task Every_vector_gives_the_expected_wagi_path_variables()
    {
        var vectors = LoadVectors();
        Assert.True(vectors.Count >= 80, $"only {vectors.Count} vectors with expect_wagi_env");
        await using var server = await WagiTestServer.StartAsync(WagiTestServer.Options("env"),
            http => vectors[int.Parse(http.Request.Headers["x-vector"]!)].Route);
        var failures = new List<string>();
        for (var i = 0; i < vectors.Count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("x-vector", i.ToString());
            using var response = await server.Client.SendAsync(request, TestContext.Current.CancellationToken);
            var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            var env = body.Split('\n').Where(l => l.StartsWith("ENV ", StringComparison.Ordinal))
                .Select(l => l[4..]).Select(kv => (Name: kv[..kv.IndexOf('=')], Value: kv[(kv.IndexOf('=') + 1)..]))
                .GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.Select(p => p.Value).ToList());
            foreach (var (name, value) in vectors[i].Expected)
            {
                if (!env.TryGetValue(name, out var got) || got.Count != 1 || got[0] != value)
                    failures.Add($"vector #{vectors[i].Index} ({vectors[i].Route.RawRoute}): {name} expected '{value}', got '{(got is null ? "<missing>" : string.Join("|", got))}'");
            }
            var extraMatches = env.Keys.Where(k => k.StartsWith("X_PATH_MATCH_", StringComparison.Ordinal) && !vectors[i].Expected.ContainsKey(k));
            failures.AddRange(extraMatches.Select(k => $"vector #{vectors[i].Index}: unexpected {k}"));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
