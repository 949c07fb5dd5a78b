using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Spindle.Hosting;

/// <summary>
/// The <c>spindle</c> health check: healthy when every mapped application loaded and is serving; unhealthy, naming
/// each application and its reason, when one failed to load or the host is stopping.
/// </summary>
internal sealed class SpindleHealthCheck(SpinApplicationRegistry registry) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var apps = registry.Applications;
        var data = apps.ToDictionary(a => a.ManifestPath, a => (object)(a.Error is null ? "serving" : "failed: " + a.Error), StringComparer.Ordinal);
        if (registry.Stopping)
            return Task.FromResult(HealthCheckResult.Unhealthy("Spin applications are stopping", data: data));
        var failed = apps.Where(a => a.Error is not null).ToArray();
        if (failed.Length > 0)
            return Task.FromResult(HealthCheckResult.Unhealthy(
                string.Join("; ", failed.Select(a => $"Spin application {a.Display} is not serving: {a.Error}")), data: data));
        return Task.FromResult(HealthCheckResult.Healthy(apps.Count == 0
            ? "no Spin application mapped"
            : $"serving {string.Join(", ", apps.Select(a => $"'{a.Name}'"))}", data));
    }
}
