using Spindle.Outbound.AllowedHosts;

namespace Spindle.Trigger.Tests.Outbound;

/// <summary>Allow-list behaviour beyond the conformance vectors.</summary>
public sealed class AllowListBehaviourTests
{
    [Fact]
    public void An_unresolvable_template_denies_the_whole_check()
    {
        var list = OutboundAllowList.Parse(["https://fixed.example", "https://{{ other }}"]);
        Assert.True(list.IsAllowed("https://fixed.example/x", resolve: _ => "other.example"));
        Assert.False(list.IsAllowed("https://fixed.example/x", resolve: n => throw new KeyNotFoundException(n)));
        Assert.False(list.IsAllowed("https://fixed.example/x", resolve: null));
    }

    [Theory]
    [InlineData("http://*.spin.internal", true)]
    [InlineData("https://backend.spin.internal", true)]
    [InlineData("https://a.b.spin.internal", false)]
    [InlineData("https://example.com", false)]
    public void Chaining_entries_mark_the_app_as_needing_service_chaining(string entry, bool expected) =>
        Assert.Equal(expected, OutboundAllowList.Parse([entry], ["backend"]).UsesServiceChaining);

    [Fact]
    public void Spin_internal_wildcard_keeps_the_entry_port()
    {
        var list = OutboundAllowList.Parse(["http://*.spin.internal:8000..8002"], ["api"]);
        Assert.True(list.IsAllowed("http://api.spin.internal:8001/"));
        Assert.False(list.IsAllowed("http://api.spin.internal:8002/"));
        Assert.False(list.IsAllowed("http://api.spin.internal/"));
    }
}
