using System.Net;
using System.Text.Json;
using Spindle.Trigger.Http.Routing;
using Spindle.Trigger.Tests.Routing;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Server;

/// <summary>
/// Every route vector with a request, sent over a real Kestrel listener to a host built from a spin.toml:
/// what the client gets (status, body, Location) and what the component sees (the spin-* headers).
/// Left out here, and covered at router level: vectors whose manifest Spindle refuses ('*' mid-route) and the
/// router-only "?query in the path" vector (a real request's path never holds the query).
/// </summary>
public sealed class ServerRouteVectorTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    public static TheoryData<int, string> RequestVectors() => RouteVectors.Where(v =>
        v.Str("request_path") is { } p && !p.Contains('?')
        && !v.Bool("expect_error")
        && !v.GetProperty("routes").EnumerateArray().Any(r => r.GetProperty("route").ValueKind == JsonValueKind.String && r.GetProperty("route").GetString()!.Contains("/*/")));

    [Theory]
    [MemberData(nameof(RequestVectors))]
    public async Task Vector(int index, string description)
    {
        _ = description;
        var v = RouteVectors.All[index];
        var (app, names) = VectorManifest.Create(v);
        using var cleanup = app;
        await using var h = await RunningHost.StartAsync(app.ManifestPath, quiet: true);
        var path = v.Str("request_path")!;
        var root = h.Host.BaseUrl.GetLeftPart(UriPartial.Authority);
        using var request = new HttpRequestMessage(HttpMethod.Get,
            new Uri(root + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        var response = await h.Client.SendAsync(request, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        var expected = v.Str("expect_component");
        if (expected is null || RouteVectors.IsStatic(expected))
        {
            var status = v.TryGetProperty("expect_status", out var s) ? s.GetInt32() : 200;
            Assert.Equal(status, (int)response.StatusCode);
            if (v.Str("expect_body") is { } eb) Assert.Equal(eb, body);
            if (expected is not null)
            {
                var (_, staticBody, location) = RouteVectors.ParseStatic(expected);
                Assert.Equal(staticBody, body);
                Assert.Equal(location, response.Headers.Location?.OriginalString);
            }
            else if (status == 404)
                Assert.Equal("", body);
            if (path == "/.well-known/spin/info")
                Assert.Equal("vector", JsonDocument.Parse(body).RootElement.GetProperty("name").GetString());
            return;
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (component, headers) = EchoExecutorFactory.Parse(body);
        Assert.Equal(expected, names[component]);
        var seen = headers.Where(x => x.Key.StartsWith("spin-", StringComparison.Ordinal)).ToDictionary(x => x.Key, x => x.Value);
        var expectedBase = v.Str("level") == "router-only" ? v.Str("base") : "/";
        foreach (var p in v.GetProperty("expect_headers").EnumerateObject())
        {
            var want = p.Name switch
            {
                SpinRequestHeaders.BasePath => expectedBase,
                // The vectors' own URL and peer are examples; over the wire they are this listener and this client.
                SpinRequestHeaders.FullUrl => root + path,
                _ => p.Value.GetString(),
            };
            if (p.Name == SpinRequestHeaders.ClientAddr)
                Assert.Matches(@"^127\.0\.0\.1:\d+$", seen[p.Name]);
            else
                Assert.Equal(want, seen[p.Name]);
        }
        Assert.Equal(root + path, seen[SpinRequestHeaders.FullUrl]);
        Assert.Equal(
            v.GetProperty("expect_headers").EnumerateObject().Count(p => p.Name.StartsWith(SpinRequestHeaders.PathMatchPrefix, StringComparison.Ordinal)),
            seen.Keys.Count(k => k.StartsWith(SpinRequestHeaders.PathMatchPrefix, StringComparison.Ordinal)));
    }
}
