using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Spindle.App.Manifest;
using Spindle.EndToEnd.Tests.Support;
using Spindle.Outbound.AllowedHosts;
using Spindle.Testing;

namespace Spindle.EndToEnd.Tests.Outbound;

/// <summary>
/// Every allow-check vector of shared/conformance/outbound-vectors.json whose URL an HTTP guest can send, enforced
/// end to end: one application with one WAT outbound component per vector (<c>v&lt;index&gt;</c> on
/// <c>/v&lt;index&gt;</c>, the vector's <c>allowed</c> list), every name resolved to a loopback upstream. An allowed
/// request must reach the upstream; a denied one must fail with <c>HTTP-request-denied</c> before any lookup or
/// connection.
/// </summary>
public sealed partial class OutboundVectorEnforcementTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    /// <summary>Components whose ids the chaining vectors (<c>component_ids</c>) name, on private routes.</summary>
    private static readonly string[] ChainTargets = ["first", "second", "third"];

    [GeneratedRegex(@"(\{\{\s*)([A-Za-z0-9_]+)(\s*\}\})")]
    private static partial Regex TemplateReference();

    private sealed record Case(int Index, JsonElement Vector, IReadOnlyList<string> Allowed, string? Variables,
        WatRequest Request, bool ExpectAllowed, string Kind)
    {
        public string Id => $"v{Index}";
    }

    [Fact]
    public async Task Every_http_vector_is_enforced_by_a_real_guest()
    {
        var vectors = JsonDocument.Parse(File.ReadAllText(Path.Combine(Paths.Conformance, "outbound-vectors.json")))
            .RootElement.EnumerateArray().ToArray();
        var skipped = new Dictionary<string, List<int>>();
        void Skip(string why, int i) => (skipped.TryGetValue(why, out var l) ? l : skipped[why] = []).Add(i);

        // 1. The vectors an HTTP guest can express: an allow check with an http/https URL (or a relative one).
        var cases = new List<Case>();
        var httpVectors = 0;
        for (var i = 0; i < vectors.Length; i++)
        {
            var v = vectors[i];
            if (!v.TryGetProperty("url", out var urlProperty))
            {
                Skip("no request (config error, chaining target or legacy conversion vector)", i);
                continue;
            }
            var allowed = v.GetProperty("allowed").EnumerateArray().Select(e => e.GetString()!).ToList();
            // Each vector's variables get its own names (v36_one), so vectors with different values share one app.
            var variables = v.TryGetProperty("variables", out var vars)
                ? string.Concat(vars.EnumerateObject().Select(p => $"v{i}_{p.Name} = {{ default = {Toml.Quote(p.Value.GetString()!)} }}\n"))
                : null;
            allowed = allowed.Select(e => TemplateReference().Replace(e, m => $"{m.Groups[1].Value}v{i}_{m.Groups[2].Value}{m.Groups[3].Value}")).ToList();
            var expect = v.GetProperty("expect_allowed").GetBoolean();
            var url = urlProperty.GetString()!;
            if (v.TryGetProperty("relative", out var rel) && rel.GetBoolean())
            {
                httpVectors++;
                cases.Add(new Case(i, v, allowed, variables, new WatRequest { Route = $"/v{i}", Path = url }, expect, "relative"));
                continue;
            }
            if (!url.Contains("://", StringComparison.Ordinal))
                url = (v.TryGetProperty("default_scheme", out var ds) ? ds.GetString()! : "https") + "://" + url;
            var request = WatRequest.For(url, $"/v{i}");
            if (request.Scheme is not ("http" or "https"))
            {
                Skip($"not http/https", i);
                continue;
            }
            httpVectors++;
            if (request.Authority!.Contains('@'))
            {
                Skip("userinfo in the URL (a guest cannot set it)", i);
                continue;
            }
            var kind = ServiceChaining.TargetOfHost(new Uri($"http://{request.Authority}/").IdnHost) is not null ? "chaining" : request.Scheme!;
            cases.Add(new Case(i, v, allowed, variables, request, expect, kind));
        }

        // 2. Drop the vectors whose list the manifest loader rejects (their errors are checked elsewhere), with the
        //    same validation the host runs: ManifestLoader, then ComponentOutboundPolicy.Build.
        using var probeApp = new TestApp(WatOutbound.Manifest(Array.Empty<string>()));
        var rejected = new List<string>();
        cases = cases.Where(c =>
        {
            try
            {
                var app = ManifestLoader.Parse(WatOutbound.Manifest([new WatComponent(c.Id, $"/{c.Id}", c.Allowed)],
                    c.Variables is null ? null : "[variables]\n" + c.Variables).Replace("{fixture:wat/http-outbound.wasm}",
                    Paths.Fixture("wat/http-outbound.wasm").Replace('\\', '/')), probeApp.ManifestPath);
                ComponentOutboundPolicy.Build(app);
                return true;
            }
            catch (ManifestException e)
            {
                rejected.Add($"v{c.Index}: {e.Message}");
                Skip("allowed list rejected by the manifest loader", c.Index);
                return false;
            }
        }).ToList();

        // 3. Upstreams. HTTPS: a certificate from a test CA naming every host an allowed https vector sends to, and a
        //    [[client_tls]] entry trusting that CA for every vector component and those hosts, so an allowed https
        //    request completes with 200 (a full request, not just a connection).
        var httpsHosts = cases.Where(c => c.Kind == "https" && c.ExpectAllowed)
            .Select(c => new Uri($"https://{c.Request.Authority}/").IdnHost.Trim('[', ']')).Distinct().ToList();
        using var pki = new TestPki();
        using var leaf = pki.IssueServer(["localhost", .. httpsHosts]);
        await using var http = await Upstream.StartAsync(Answer);
        await using var https = await Upstream.StartAsync(Answer, certificate: leaf);

        // Names resolve to the upstream for the scheme of the vector being run (vectors run one at a time). The
        // hook sees self-requests too (they connect to the host's own listener through the same connector): those
        // keep their address.
        var target = http.Port;
        var selfPort = -1;
        var lookups = 0;
        ValueTask<IPEndPoint[]> Resolve(DnsEndPoint endpoint, CancellationToken _)
        {
            if (endpoint.Port == Volatile.Read(ref selfPort) && IPAddress.TryParse(endpoint.Host, out var self))
                return ValueTask.FromResult(new[] { new IPEndPoint(self, endpoint.Port) });
            Interlocked.Increment(ref lookups);
            return ValueTask.FromResult(new[] { new IPEndPoint(IPAddress.Loopback, Volatile.Read(ref target)) });
        }

        var components = cases.Select(c => new WatComponent(c.Id, $"/{c.Id}", c.Allowed))
            .Concat(ChainTargets.Select(id => new WatComponent(id, null, [])));
        var variableTable = string.Concat(cases.Select(c => c.Variables));
        using var app = new TestApp(WatOutbound.Manifest(components, variableTable.Length == 0 ? null : "[variables]\n" + variableTable));
        app.WriteFile("ca.pem", pki.CaPem);
        var runtimeConfig = app.WriteFile("runtime-config.toml", $"""
            [[client_tls]]
            component_ids = {Toml.List(cases.Select(c => c.Id))}
            hosts = {Toml.List(httpsHosts.DefaultIfEmpty("localhost"))}
            ca_roots_file = "ca.pem"
            """);
        var log = new CapturedLog();
        await using var host = await app.StartAsync(runtime, log, o => WatOutbound.With(o, runtimeConfigPath: runtimeConfig,
            configureOutbound: outbound => WatOutbound.WithResolve(outbound, Resolve)));
        Volatile.Write(ref selfPort, host.BaseUrl.Port);
        using var client = TestApp.Client(host.BaseUrl);

        // 4. Each vector in turn.
        var failures = new List<string>();
        var run = 0;
        foreach (var c in cases)
        {
            var upstream = c.Request.Scheme == "https" ? https : http;
            Volatile.Write(ref target, upstream.Port);
            var (httpBefore, httpsBefore, lookupsBefore) = ((http.Requests, http.Connections), (https.Requests, https.Connections), Volatile.Read(ref lookups));
            WatReply reply;
            try
            {
                reply = await client.SendWatAsync(c.Request, Ct);
            }
            catch (HttpRequestException e)
            {
                failures.Add($"{Describe(c)}: the host failed: {e.Message}");
                continue;
            }
            run++;
            var httpDelta = (http.Requests - httpBefore.Requests, http.Connections - httpBefore.Connections);
            var httpsDelta = (https.Requests - httpsBefore.Requests, https.Connections - httpsBefore.Connections);
            var lookupDelta = Volatile.Read(ref lookups) - lookupsBefore;
            var seen = $"{reply}; upstream requests/connections http {httpDelta}, https {httpsDelta}; lookups {lookupDelta}";

            if (!c.ExpectAllowed)
            {
                if (reply.ErrorCode != WatOutbound.ErrorCode.HttpRequestDenied || httpDelta != (0, 0) || httpsDelta != (0, 0) || lookupDelta != 0)
                    failures.Add($"{Describe(c)}: expected denied (x-error-code 15, no lookup, no connection); got {seen}");
                continue;
            }
            var ok = c.Kind switch
            {
                // Self-requests go to the host's own listener (no route there: any status), never to an upstream.
                "relative" => reply.ErrorCode is null && reply.UpstreamStatus is not null && httpDelta == (0, 0) && httpsDelta == (0, 0),
                // In process: the callee (a WAT component with an empty list) answers 200; an unknown callee fails,
                // but not with HTTP-request-denied.
                "chaining" => reply.ErrorCode != WatOutbound.ErrorCode.HttpRequestDenied && httpDelta == (0, 0) && httpsDelta == (0, 0),
                _ => reply.UpstreamStatus == 200 && reply.Text == $"{c.Request.Scheme} {c.Request.Path}"
                    && (upstream == http ? httpDelta.Item1 == 1 && httpsDelta == (0, 0) : httpsDelta.Item1 == 1 && httpDelta == (0, 0)),
            };
            if (!ok)
                failures.Add($"{Describe(c)}: expected allowed ({c.Kind}); got {seen}");
        }

        var kinds = string.Join(", ", cases.GroupBy(c => (c.Kind, c.ExpectAllowed)).OrderBy(g => g.Key.Kind)
            .Select(g => $"{g.Key.Kind} {(g.Key.ExpectAllowed ? "allowed" : "denied")} {g.Count()}"));
        var summary = new StringBuilder($"{run} vectors run of {httpVectors} http/https/relative ones ({kinds}); skipped:");
        foreach (var (why, list) in skipped)
            summary.Append($"\n  {list.Count} {why}: {string.Join(", ", list.Select(i => $"v{i}"))}");
        foreach (var r in rejected) summary.Append($"\n  {r}");
        TestContext.Current.TestOutputHelper?.WriteLine(summary.ToString());

        Assert.True(failures.Count == 0, $"{failures.Count} vectors failed:\n{string.Join("\n", failures)}\n\n{summary}");
        // Only the userinfo vector and the lists the loader rejects may be left out of the http/https ones.
        var userinfo = skipped.GetValueOrDefault("userinfo in the URL (a guest cannot set it)")?.Count ?? 0;
        Assert.Equal(httpVectors - userinfo - rejected.Count, run);
        Assert.True(run >= 75, summary.ToString());
        Assert.True(rejected.Count <= 2, summary.ToString());
        foreach (var kind in new[] { "http", "https", "relative", "chaining" })
            foreach (var allowed in new[] { true, false })
                Assert.True(cases.Any(c => c.Kind == kind && c.ExpectAllowed == allowed), $"no {kind} vector expected {(allowed ? "allowed" : "denied")}\n{summary}");
    }

    /// <summary>Both upstreams answer with their scheme and the path they were asked for.</summary>
    private static Task Answer(HttpContext http) =>
        http.Response.WriteAsync($"{http.Request.Scheme} {http.Request.Path}{http.Request.QueryString}", http.RequestAborted);

    private static string Describe(Case c) =>
        $"v{c.Index} allowed={JsonSerializer.Serialize(c.Vector.GetProperty("allowed"))} url={c.Vector.GetProperty("url").GetString()} " +
        $"(scheme {c.Request.Scheme ?? "-"}, authority {c.Request.Authority ?? "-"}, path {c.Request.Path})";
}
