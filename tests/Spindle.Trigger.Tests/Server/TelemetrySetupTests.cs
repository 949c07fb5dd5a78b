using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Spindle.Hosting.Telemetry;

namespace Spindle.Trigger.Tests.Server;

/// <summary>
/// When the host turns OpenTelemetry export on, and the two defaults it sets (http/protobuf, the app's name) under
/// whatever the configuration says. The export itself: <c>OtlpExportTests</c> (end to end).
/// </summary>
public sealed class TelemetrySetupTests
{
    private static WebApplicationBuilder Builder(params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        return builder;
    }

    [Fact]
    public void Without_an_OTLP_endpoint_nothing_is_added()
    {
        var builder = Builder(("OTEL_SERVICE_NAME", "x"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"));
        Assert.False(TelemetrySetup.AddSpindleTelemetry(builder, "app"));
        using var services = builder.Services.BuildServiceProvider();
        Assert.Null(services.GetService<TracerProvider>());
    }

    [Fact]
    public void An_endpoint_turns_export_on_with_http_protobuf_and_the_app_name_as_defaults()
    {
        var builder = Builder(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"));
        Assert.True(TelemetrySetup.AddSpindleTelemetry(builder, "my-app"));
        Assert.Equal("http/protobuf", builder.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.Equal("my-app", builder.Configuration["OTEL_SERVICE_NAME"]);
        using var services = builder.Services.BuildServiceProvider();
        Assert.NotNull(services.GetService<TracerProvider>());
    }

    [Fact]
    public void Configured_values_win_over_the_defaults()
    {
        var builder = Builder(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes"));
        Assert.True(TelemetrySetup.AddSpindleTelemetry(builder, "my-app"));
        Assert.Equal("grpc", builder.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.Null(builder.Configuration["OTEL_SERVICE_NAME"]);
    }

    [Fact]
    public void A_signal_exporter_set_to_none_with_no_other_signal_leaves_export_off()
    {
        var builder = Builder(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces"), ("OTEL_TRACES_EXPORTER", "none"));
        Assert.False(TelemetrySetup.AddSpindleTelemetry(builder, "my-app"));
    }
}
