using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Spindle.Outbound.Telemetry;
using Spindle.Trigger.Http.Telemetry;

namespace Spindle.Hosting.Telemetry;

/// <summary>
/// OpenTelemetry export for a Spindle host, as Spin does it: on only when an OTLP endpoint is configured
/// (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, or <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> /
/// <c>OTEL_EXPORTER_OTLP_METRICS_ENDPOINT</c> for one signal), read from the host's configuration (which holds the
/// environment). Then the OpenTelemetry SDK exports Spindle's spans and metrics (<see cref="SourceNames"/>) with
/// its OTLP exporter, which reads every standard variable itself (<c>OTEL_EXPORTER_OTLP_*</c> including the
/// per-signal ones, <c>OTEL_SERVICE_NAME</c>, <c>OTEL_RESOURCE_ATTRIBUTES</c>, <c>OTEL_TRACES_SAMPLER[_ARG]</c>,
/// <c>OTEL_BSP_*</c>, <c>OTEL_METRIC_EXPORT_INTERVAL</c>). Spindle only changes two defaults: the protocol is
/// <c>http/protobuf</c> (Spin's; the .NET SDK's own is gRPC) and the service name is the application's name,
/// each unless configured. <c>OTEL_TRACES_EXPORTER</c>/<c>OTEL_METRICS_EXPORTER</c> <c>none</c> turn a signal off.
/// Logs go over OTLP only with <c>OTEL_LOGS_EXPORTER=otlp</c> (they have the console and <c>--log-dir</c>).
/// Nothing configured: no SDK, no listener, and the instrumentation costs next to nothing.
/// Buffered spans and metrics are flushed when the host stops (and again when it is disposed).
/// </summary>
public static class TelemetrySetup
{
    /// <summary>Spindle's ActivitySource and Meter names (the same for both).</summary>
    public static IReadOnlyList<string> SourceNames { get; } = [TriggerTelemetry.Name, OutboundTelemetry.Name];

    private const string Endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// Adds OpenTelemetry export to <paramref name="builder"/> when its configuration names an OTLP endpoint;
    /// returns whether it did. Call it after logging is configured.
    /// </summary>
    /// <param name="builder">The host being built.</param>
    /// <param name="serviceName">The default <c>service.name</c> (the application's name).</param>
    public static bool AddSpindleTelemetry(IHostApplicationBuilder builder, string serviceName)
    {
        var config = builder.Configuration;
        var traces = Set(config, Endpoint) || Set(config, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        var metrics = Set(config, Endpoint) || Set(config, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        var logs = Set(config, Endpoint) || Set(config, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
        traces &= !IsNone(config["OTEL_TRACES_EXPORTER"]);
        metrics &= !IsNone(config["OTEL_METRICS_EXPORTER"]);
        logs &= string.Equals(config["OTEL_LOGS_EXPORTER"]?.Trim(), "otlp", StringComparison.OrdinalIgnoreCase);
        if (!traces && !metrics && !logs) return false;

        // Defaults below everything else the configuration holds (the environment, command line...).
        var defaults = new Dictionary<string, string?>();
        if (!Set(config, "OTEL_EXPORTER_OTLP_PROTOCOL")) defaults["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        if (!Set(config, "OTEL_SERVICE_NAME") && config["OTEL_RESOURCE_ATTRIBUTES"]?.Contains("service.name=", StringComparison.Ordinal) != true)
            defaults["OTEL_SERVICE_NAME"] = serviceName;
        if (defaults.Count > 0) config.Sources.Insert(0, new MemoryConfigurationSource { InitialData = defaults });

        builder.Services.AddOpenTelemetry()
            .WithTracing(t =>
            {
                if (traces) t.AddSource([.. SourceNames]);
            })
            .WithMetrics(m =>
            {
                if (metrics) m.AddMeter([.. SourceNames]);
            })
            .UseOtlpExporter();
        if (!logs) builder.Logging.AddFilter<OpenTelemetryLoggerProvider>(null, LogLevel.None);
        builder.Services.AddHostedService<TelemetryFlush>();
        return true;
    }

    private static bool Set(IConfiguration config, string key) => !string.IsNullOrWhiteSpace(config[key]);

    private static bool IsNone(string? value) => string.Equals(value?.Trim(), "none", StringComparison.OrdinalIgnoreCase);

    /// <summary>Flushes the providers once every hosted service (the server, draining its requests) has stopped.</summary>
    private sealed class TelemetryFlush(IServiceProvider services) : IHostedLifecycleService
    {
        private static readonly int FlushTimeoutMs = 5000;

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.Run(() =>
        {
            services.GetService<TracerProvider>()?.ForceFlush(FlushTimeoutMs);
            services.GetService<MeterProvider>()?.ForceFlush(FlushTimeoutMs);
        }, CancellationToken.None);
    }
}
