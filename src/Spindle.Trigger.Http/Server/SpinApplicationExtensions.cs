using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Spindle.Trigger.Http.Server;

/// <summary>Wiring helpers for ASP.NET Core applications.</summary>
public static class SpinApplicationExtensions
{
    /// <summary>Ends the pipeline with the Spin application: every request that gets here is routed as Spin does.</summary>
    public static IApplicationBuilder RunSpinApplication(this IApplicationBuilder builder, SpinHttpApplication app, ILogger<SpinHttpTrigger>? logger = null)
    {
        var trigger = new SpinHttpTrigger(app, logger);
        builder.Run(trigger.HandleAsync);
        return builder;
    }

    /// <summary>
    /// Maps the Spin application as an endpoint (default: every path, lowest precedence), so an ASP.NET Core
    /// application keeps its own endpoints and hands everything else to Spin's router.
    /// </summary>
    public static IEndpointConventionBuilder MapSpinApplication(this IEndpointRouteBuilder endpoints, SpinHttpApplication app,
        string pattern = "/{**spinPath}", ILogger<SpinHttpTrigger>? logger = null)
    {
        var trigger = new SpinHttpTrigger(app, logger);
        return endpoints.Map(pattern, trigger.HandleAsync).WithDisplayName("Spin application " + app.App.Name);
    }
}
