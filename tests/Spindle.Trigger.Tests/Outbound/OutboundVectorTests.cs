using System.Text.Json;
using Spindle.Outbound.AllowedHosts;
using Spindle.Testing;

namespace Spindle.Trigger.Tests.Outbound;

/// <summary>Runs every vector of shared/conformance/outbound-vectors.json through Spindle's allow-list code.</summary>
public sealed class OutboundVectorTests
{
    private static readonly JsonElement[] All = JsonDocument
        .Parse(File.ReadAllText(Path.Combine(Paths.Conformance, "outbound-vectors.json")))
        .RootElement.EnumerateArray().ToArray();

    public static TheoryData<int, string> Vectors()
    {
        var data = new TheoryData<int, string>();
        for (var i = 0; i < All.Length; i++)
            data.Add(i, Describe(All[i]));
        return data;
    }

    [Fact]
    public void All_189_vectors_are_present() => Assert.Equal(189, All.Length);

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Vector(int index, string description)
    {
        _ = description;
        var v = All[index];
        if (v.TryGetProperty("chain_uri", out var chain))
        {
            var expected = v.GetProperty("expect_chain_target");
            Assert.Equal(expected.ValueKind == JsonValueKind.Null ? null : expected.GetString(), ServiceChaining.TargetOf(chain.GetString()!));
            return;
        }
        if (v.TryGetProperty("allowed_http_hosts", out var legacy))
        {
            RunLegacy(v, Strings(legacy));
            return;
        }

        var allowed = Strings(v.GetProperty("allowed"));
        var variables = v.TryGetProperty("variables", out var vars)
            ? vars.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!)
            : new Dictionary<string, string>();
        var componentIds = v.TryGetProperty("component_ids", out var ids) ? Strings(ids) : [];

        if (v.TryGetProperty("expect_config_error", out var ce) && ce.GetBoolean())
        {
            var ex = Assert.Throws<AllowedHostException>(() =>
                OutboundAllowList.Parse(allowed, componentIds, n => variables.GetValueOrDefault(n)));
            AssertMeaningEqual(v, ex, allowed);
            if (v.TryGetProperty("invalid_entries", out var invalid))
                foreach (var bad in Strings(invalid))
                    Assert.Throws<AllowedHostException>(() => OutboundAllowList.Parse([bad]));
            return;
        }

        // Load-time parse uses only what is known at load (no defaults here); request-time resolution uses the values.
        var list = OutboundAllowList.Parse(allowed, componentIds);
        Func<string, string> resolve = n => variables.TryGetValue(n, out var val) ? val : throw new KeyNotFoundException(n);
        var expectedAllowed = v.GetProperty("expect_allowed").GetBoolean();
        var url = v.GetProperty("url").GetString()!;
        var actual = v.TryGetProperty("relative", out var rel) && rel.GetBoolean()
            ? list.AllowsSelf(resolve)
            : list.IsAllowed(url, v.TryGetProperty("default_scheme", out var ds) ? ds.GetString()! : "https", resolve);
        Assert.Equal(expectedAllowed, actual);
    }

    private static void RunLegacy(JsonElement v, IReadOnlyList<string> hosts)
    {
        var version = v.GetProperty("manifest_version").GetInt32();
        if (v.TryGetProperty("expect_config_error", out var ce) && ce.GetBoolean())
        {
            var ex = Assert.Throws<AllowedHostException>(() => ComponentOutboundPolicy.EffectiveEntries(version, null, hosts));
            Assert.Contains(hosts.First(h => ex.Message.Contains(h, StringComparison.Ordinal)), ex.Message);
            return;
        }
        var expected = Strings(v.GetProperty("expect_converted_allowed_outbound_hosts"));
        var actual = ComponentOutboundPolicy.EffectiveEntries(version, version == 1 ? null : [], hosts);
        Assert.Equal(expected, actual);
        // What the conversion produces must itself be valid config.
        OutboundAllowList.Parse(actual);
    }

    /// <summary>
    /// "Meaning-equal": Spindle keeps Spin's wording, so we compare the reason text after the entry-specific part,
    /// and require the message to name the offending entry (or the part of it that is wrong).
    /// </summary>
    private static void AssertMeaningEqual(JsonElement v, AllowedHostException ex, IReadOnlyList<string> allowed)
    {
        Assert.Contains(ex.Entry, allowed);
        if (!v.TryGetProperty("error_message", out var em)) return;
        var expected = em.GetString()!;
        if (expected.StartsWith("InvalidTemplate", StringComparison.Ordinal))
        {
            Assert.Contains("unmatched '{{'", ex.Message);
            Assert.Contains(ex.Entry, ex.Message);
            return;
        }
        Assert.Equal(expected, ex.Message);
    }

    private static IReadOnlyList<string> Strings(JsonElement a) => a.EnumerateArray().Select(e => e.GetString()!).ToList();

    private static string Describe(JsonElement v)
    {
        var s = v.TryGetProperty("allowed", out var a) ? a.GetRawText()
            : v.TryGetProperty("chain_uri", out var c) ? c.GetString()! : v.GetProperty("allowed_http_hosts").GetRawText();
        if (v.TryGetProperty("url", out var u)) s += " " + u.GetString();
        return s.Length > 80 ? s[..80] : s;
    }
}
