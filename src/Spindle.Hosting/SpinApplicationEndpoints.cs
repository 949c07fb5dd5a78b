using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Spindle.Trigger.Http.Routing;

namespace Spindle.Hosting;

/// <summary>Maps Spin applications into an ASP.NET Core application's endpoints.</summary>
public static class SpinApplicationEndpoints
{
    /// <summary>
    /// Loads the Spin application of <paramref name="manifestPath"/> (a <c>spin.toml</c> or a folder holding one,
    /// relative to the content root) and maps it on every path under <paramref name="endpoints"/>: the application
    /// itself, or a route group (<c>app.MapGroup("/spin").MapSpinApplication(...)</c>), whose prefix the application
    /// routes relative to (<c>/spin/hello</c> is routed as <c>/hello</c>; see <see cref="SpinMountFeature"/> for what
    /// the <c>spin-*</c> headers then hold). Needs <see cref="SpindleServiceCollectionExtensions.AddSpindle"/>. The
    /// application's lifetime belongs to the host: released when it stops, after in-flight requests drained. An
    /// application that cannot be loaded is logged, reported by the <c>spindle</c> health check, and answers 503.
    /// </summary>
    /// <returns>The endpoint's convention builder (for authorization, rate limiting, metadata...).</returns>
    /// <exception cref="InvalidOperationException"><see cref="SpindleServiceCollectionExtensions.AddSpindle"/> was not called.</exception>
    /// <exception cref="OptionsValidationException">A Spindle setting is invalid (each failure names the setting and value).</exception>
    public static IEndpointConventionBuilder MapSpinApplication(this IEndpointRouteBuilder endpoints, string manifestPath,
        Action<SpinApplicationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(manifestPath);
        var registry = endpoints.ServiceProvider.GetService<SpinApplicationRegistry>()
            ?? throw new InvalidOperationException("MapSpinApplication needs Spindle's services: call builder.Services.AddSpindle() first.");
        var options = new SpinApplicationOptions();
        configure?.Invoke(options);
        var mapped = registry.Load(manifestPath, options);
        var bodyLimit = endpoints.ServiceProvider.GetRequiredService<IOptions<SpindleOptions>>().Value.Server.MaxRequestBodySize;

        return endpoints.Map("/{**spinPath}", context =>
        {
            if (mapped.Trigger is not { } trigger)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return Task.CompletedTask;
            }
            // The group's prefix: as many raw segments as the endpoint's pattern has before its catch-all.
            if (context.GetEndpoint() is RouteEndpoint { RoutePattern.PathSegments.Count: > 1 } endpoint)
                context.Features.Set(new SpinMountFeature(RawPrefix(RawRequestTarget.RawPathAndQuery(context).Path, endpoint.RoutePattern.PathSegments.Count - 1)));
            // Spindle's request body limit (default none, as Spin) replaces the server's for these requests.
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body)
                body.MaxRequestBodySize = bodyLimit;
            return trigger.HandleAsync(context);
        }).WithDisplayName("Spin application " + mapped.Name);
    }

    /// <summary>The first <paramref name="segments"/> segments of a raw path (<c>/a/b/c</c>, 2: <c>/a/b</c>).</summary>
    internal static string RawPrefix(string path, int segments)
    {
        var end = 0;
        for (var i = 0; i < segments; i++)
        {
            var next = path.IndexOf('/', end + 1);
            if (next < 0) return path;
            end = next;
        }
        return path[..end];
    }
}
