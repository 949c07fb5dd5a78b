using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Spindle.Engine;
using Spindle.Trigger.Http.Executors;

namespace Spindle.Hosting;

/// <summary>Registers Spindle in an ASP.NET Core (or generic host) application.</summary>
public static class SpindleServiceCollectionExtensions
{
    /// <summary>
    /// Adds Spindle: 1. <see cref="SpindleOptions"/>, bound from the configuration section <c>Spindle</c> and then
    /// <paramref name="configure"/>, checked at start (<see cref="SpindleOptionsValidator"/>: every error names its
    /// setting and value); 2. the <see cref="SpindleEngine"/> (a singleton made from <see cref="SpindleOptions.Engine"/>,
    /// disposed by the container after the applications); 3. the executors over it; 4. what loads and owns the
    /// applications that <see cref="SpinApplicationEndpoints.MapSpinApplication(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder, string, Action{SpinApplicationOptions}?)"/>
    /// maps (stopped with the host: in-flight requests drain with the server, then the applications are released);
    /// 5. the health check <c>spindle</c> (healthy when every mapped application loaded and is serving).
    /// An engine or <see cref="ExecutorFactoryRegistry"/> registered before this call is used instead of a new one (no
    /// engine is created when the executors are the caller's).
    /// </summary>
    public static IServiceCollection AddSpindle(this IServiceCollection services, Action<SpindleOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SpindleOptions>().BindConfiguration(SpindleOptions.SectionName);
        if (configure is not null) options.Configure(configure);
        if (services.Any(d => d.ServiceType == typeof(SpinApplicationRegistry))) return services;

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SpindleOptions>, SpindleOptionsValidator>());
        services.TryAddSingleton(sp => SpindleEngine.Create(sp.GetRequiredService<IOptions<SpindleOptions>>().Value.Engine));
        services.TryAddSingleton(sp => sp.GetRequiredService<SpindleEngine>().CreateRegistry());
        services.AddSingleton<SpinApplicationRegistry>();
        // Spindle:Server:ShutdownTimeout, when set, is how long the host lets in-flight requests drain.
        services.AddOptions<HostOptions>().Configure<IOptions<SpindleOptions>>((host, spindle) =>
        {
            if (spindle.Value.Server.ShutdownTimeout is { } timeout) host.ShutdownTimeout = timeout;
        });
        services.AddHealthChecks().AddCheck<SpindleHealthCheck>("spindle");
        return services;
    }
}
