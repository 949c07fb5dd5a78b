using System.Text.Json;
using Spindle.App.Manifest;
using Spindle.App.Model;
using Spindle.Trigger.Http.Routing;
using Spindle.Trigger.Tests.Routing;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Manifest;

/// <summary>The route vectors decided at startup (level "trigger", and the private = false error), through spin.toml.</summary>
public sealed class ManifestRouteVectorTests
{
    public static TheoryData<int, string> StartupVectors() => RouteVectors.Where(v =>
        v.Str("level") == "trigger"
        || v.GetProperty("routes").EnumerateArray().Any(r => r.GetProperty("route").ValueKind == JsonValueKind.Object && !r.GetProperty("route").GetProperty("private").GetBoolean()));

    [Theory]
    [MemberData(nameof(StartupVectors))]
    public void Vector(int index, string description)
    {
        _ = description;
        var v = RouteVectors.All[index];
        var (app, names) = VectorManifest.Create(v);
        using var cleanup = app;
        var executor = v.GetProperty("routes")[0].TryGetProperty("executor", out var e) ? e : default;

        if (v.Str("base") is { } b && b != "/")
        {
            // Spin 3+ refuses a non-'/' base; the seed documents describe it as working, so Spindle serves it.
            var spin = ManifestLoaderTests.Prepare(ManifestLoader.Load(app.ManifestPath), Echo());
            var match = spin.Router.Match(b + "/foo");
            Assert.Equal("a", names[match!.ComponentId]);
            Assert.Equal(b, match.BasePath);
            return;
        }
        if (executor.ValueKind == JsonValueKind.Object && executor.TryGetProperty("entrypoint", out var ep))
        {
            // Conformance README point 3: Spindle calls the named export (checked by the Wagi executor at load).
            var m = ManifestLoader.Load(app.ManifestPath);
            Assert.Equal(ep.GetString(), m.HttpTriggers[0].Executor.Entrypoint);
            Assert.Equal(ExecutorKind.Wagi, m.HttpTriggers[0].Executor.Kind);
            return;
        }
        if (v.Bool("expect_error"))
        {
            var ex = Assert.Throws<ManifestException>(() => ManifestLoader.Load(app.ManifestPath));
            Assert.StartsWith(app.ManifestPath, ex.Message);
            Assert.StartsWith("trigger.http[", ex.KeyPath);
            if (v.Str("error_message") is { } expected)
            {
                // Spin names the trigger by id; ours is generated from the component id (c1) or the index.
                var owner = names.FirstOrDefault().Key ?? "http-trigger1";
                var meaning = expected.Replace("<trigger-id>", owner).Replace("'comp-bad component'", "'c2'");
                Assert.Contains(meaning, ex.Message);
            }
            else
                Assert.Contains("unknown key 'bogus'", ex.Message);
            return;
        }

        // base = "/" written explicitly: accepted with a deprecation warning.
        var loaded = ManifestLoader.Load(app.ManifestPath);
        Assert.Contains(loaded.Warnings, w => w.Contains("base"));
        var router = ManifestLoaderTests.Prepare(loaded, Echo()).Router;
        var hit = router.Match(v.Str("request_path")!);
        Assert.Equal(v.Str("expect_component"), names[hit!.ComponentId]);
        var headers = SpinRequestHeaders.Compute(hit, "http://localhost/foo", "127.0.0.1:1").ToDictionary(h => h.Key, h => h.Value);
        foreach (var p in v.GetProperty("expect_headers").EnumerateObject())
            Assert.Equal(p.Value.GetString(), headers[p.Name]);
    }

    private static Spindle.Trigger.Http.Executors.ExecutorFactoryRegistry Echo() =>
        new Spindle.Trigger.Http.Executors.ExecutorFactoryRegistry()
            .Add(ExecutorKind.Http, new EchoExecutorFactory())
            .Add(ExecutorKind.Wagi, new EchoExecutorFactory());
}
