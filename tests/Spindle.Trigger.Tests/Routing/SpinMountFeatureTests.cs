using Spindle.Trigger.Http.Routing;

namespace Spindle.Trigger.Tests.Routing;

/// <summary>A mounted application routes relative to its prefix; the prefix acts as an outer base for the spin-* facts.</summary>
public sealed class SpinMountFeatureTests
{
    [Theory]
    [InlineData("/spin", "/spin/hello/x", "/hello/x")]
    [InlineData("/spin", "/spin", "/")]
    [InlineData("/spin", "/spin/", "/")]
    [InlineData("/spin", "/spinner/x", null)]
    [InlineData("/spin", "/other", null)]
    [InlineData("/t/a%20b", "/t/a%20b/x%2Fy", "/x%2Fy")]
    [InlineData("", "/x", "/x")]
    public void The_path_is_taken_relative_to_the_prefix(string prefix, string path, string? relative) =>
        Assert.Equal(relative, new SpinMountFeature(prefix).Relative(path));

    [Fact]
    public void Base_path_and_matched_route_start_with_the_prefix_and_path_info_is_unchanged()
    {
        var match = new RouteMatch("hello", "/hello/...", "/hello/...", "/hello", "/x", "/", []);
        var outside = new SpinMountFeature("/spin").Outside(match);
        Assert.Equal("/spin", outside.BasePath);
        Assert.Equal("/spin/hello/...", outside.MatchedRoute);
        Assert.Equal("/x", outside.PathInfo);
        Assert.Equal("/hello/...", outside.RawRoute);
        Assert.Equal("/hello", outside.ComponentRoute);

        var based = new SpinMountFeature("/spin").Outside(match with { BasePath = "/base", MatchedRoute = "/base/hello/..." });
        Assert.Equal("/spin/base", based.BasePath);
        Assert.Equal("/spin/base/hello/...", based.MatchedRoute);
    }
}
