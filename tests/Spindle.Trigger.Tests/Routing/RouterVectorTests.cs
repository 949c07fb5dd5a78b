using System.Text.Json;
using Spindle.Trigger.Http.Routing;

namespace Spindle.Trigger.Tests.Routing;

/// <summary>
/// Every route vector that the router decides, run through <see cref="Router"/> (matching, precedence, duplicates,
/// the spin-* headers and the Wagi path variables). Startup-level vectors are in ManifestRouteVectorTests and the
/// server-level ones (reserved paths, static responses, 404) also run over real Kestrel in ServerRouteVectorTests.
/// </summary>
public sealed class RouterVectorTests
{
    public static TheoryData<int, string> RouterVectors() => RouteVectors.Where(v => v.Str("level") != "trigger");

    [Fact]
    public void All_119_vectors_are_present() => Assert.Equal(119, RouteVectors.All.Length);

    [Theory]
    [MemberData(nameof(RouterVectors))]
    public void Vector(int index, string description)
    {
        _ = description;
        var v = RouteVectors.All[index];
        var basePath = v.Str("base")!;
        var definitions = v.GetProperty("routes").EnumerateArray()
            .Where(r => r.GetProperty("route").ValueKind == JsonValueKind.String)
            .Select(r => new RouteDefinition(r.GetProperty("component").GetString()!, r.GetProperty("route").GetString()!))
            .ToList();
        var privateFalse = v.GetProperty("routes").EnumerateArray().Any(r =>
            r.GetProperty("route").ValueKind == JsonValueKind.Object && !r.GetProperty("route").GetProperty("private").GetBoolean());

        if (v.Bool("expect_error") && !privateFalse)
        {
            var ex = Assert.Throws<RouteException>(() => Router.Build(basePath, definitions));
            Assert.Equal(v.Str("error_message"), ex.Message);
            return;
        }
        if (privateFalse)
            return; // a manifest-level error: ManifestRouteVectorTests checks it with its message.
        if (v.Bool("expect_no_response") || definitions.Any(d => d.Route.Contains("/*/", StringComparison.Ordinal)))
        {
            // Spin panics at request time when matching reaches the '*' (and answers 404 when an earlier segment
            // fails first); Spindle refuses the route at load and names it (conformance README point 2).
            var ex = Assert.Throws<RouteException>(() => Router.Build(basePath, definitions));
            Assert.Contains("/foo/*/bar", ex.Message);
            Assert.Contains("mid-star", ex.Message);
            return;
        }

        var router = Router.Build(basePath, definitions);
        var path = v.Str("request_path")!;

        if (v.TryGetProperty("expect_duplicate_warnings", out var dups))
        {
            var expected = dups.EnumerateArray().Select(d => new DuplicateRoute(
                d.GetProperty("route").GetString()!, d.GetProperty("replaced").GetString()!, d.GetProperty("effective").GetString()!));
            Assert.Equal(expected, router.Duplicates);
        }
        else
            Assert.Empty(router.Duplicates);

        Assert.Equal(v.Bool("expect_reserved_route_warning"), router.UnreachableReserved.Count > 0);

        var match = router.Match(path);
        if (v.Str("router_would_pick") is { } pick)
        {
            // The server intercepts /.well-known/spin/* before routing (checked over Kestrel); the router itself still picks.
            Assert.Equal(pick, match?.ComponentId);
            return;
        }

        var expectedComponent = v.Str("expect_component");
        Assert.Equal(expectedComponent, match?.ComponentId);
        if (match is null) return;

        if (v.TryGetProperty("expect_headers", out var eh) && eh.ValueKind == JsonValueKind.Object)
        {
            var fullUrl = eh.Str("spin-full-url") ?? "http://localhost" + path;
            var clientAddr = eh.Str("spin-client-addr") ?? "127.0.0.1:1234";
            var headers = SpinRequestHeaders.Compute(match, fullUrl, clientAddr).ToDictionary(h => h.Key, h => h.Value);
            // README point 1: with a non-'/' base Spindle reports the configured base.
            var expectedBase = v.Str("level") == "router-only" ? basePath : "/";
            foreach (var p in eh.EnumerateObject())
            {
                var want = p.Name == "spin-base-path" ? expectedBase : p.Value.GetString();
                Assert.True(headers.TryGetValue(p.Name, out var got), $"missing header {p.Name}");
                Assert.Equal(want, got);
            }
            // No path-match header beyond those expected.
            Assert.Equal(
                eh.EnumerateObject().Count(p => p.Name.StartsWith(SpinRequestHeaders.PathMatchPrefix, StringComparison.Ordinal)),
                headers.Keys.Count(k => k.StartsWith(SpinRequestHeaders.PathMatchPrefix, StringComparison.Ordinal)));
        }

        if (v.TryGetProperty("expect_wagi_env", out var we))
        {
            var env = SpinRequestHeaders.WagiPathVariables(match).ToDictionary(h => h.Key, h => h.Value);
            var expectedBase = v.Str("level") == "router-only" ? basePath : "/";
            foreach (var p in we.EnumerateObject())
            {
                var want = p.Name == "X_BASE_PATH" ? expectedBase : p.Value.GetString();
                Assert.True(env.TryGetValue(p.Name, out var got), $"missing Wagi variable {p.Name}");
                Assert.Equal(want, got);
            }
        }
    }
}
