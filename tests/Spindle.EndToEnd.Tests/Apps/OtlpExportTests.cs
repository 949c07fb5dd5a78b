using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Spindle.EndToEnd.Tests.Support;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary>
/// The real <c>spindle up</c> process with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> pointing at a loopback OTLP/HTTP
/// receiver started here: the trace of a request (continuing the client's <c>traceparent</c>) is exported while it
/// runs, and its metrics when SIGTERM stops it. <c>OTEL_EXPORTER_OTLP_PROTOCOL</c> is left unset: Spindle's
/// default, http/protobuf as Spin's, is what makes the receiver get anything (the .NET SDK's own default is gRPC).
/// Not proved here: the span tree and attributes (<c>TelemetryTests</c>, in process).
/// </summary>
public sealed class OtlpExportTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Spindle_up_exports_the_requests_trace_over_OTLP_http_and_flushes_metrics_on_SIGTERM()
    {
        var posts = new ConcurrentQueue<(string Path, byte[] Body)>();
        await using var receiver = await Upstream.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            posts.Enqueue((context.Request.Path.Value ?? "", body.ToArray()));
            context.Response.ContentType = "application/x-protobuf";
            context.Response.StatusCode = StatusCodes.Status200OK;
        });
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "otlp-e2e"
            [[trigger.http]]
            route = "/..."
            component = "otlp-hello"
            [component.otlp-hello]
            source = "{fixture:wat/http-hello.wasm}"
            """);
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "spindle.dll"), "up", "-f", app.ManifestPath, "--listen", "127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal)).ToList()) psi.Environment.Remove(key);
        psi.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.BaseUrl;
        psi.Environment["OTEL_BSP_SCHEDULE_DELAY"] = "200";
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        try
        {
            string? serving = null;
            while (serving is null)
            {
                var line = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(120), Ct)
                    ?? throw new Xunit.Sdk.XunitException("spindle exited: " + await stderr);
                if (line.StartsWith("Serving ", StringComparison.Ordinal)) serving = line["Serving ".Length..];
            }
            _ = process.StandardOutput.ReadToEndAsync(Ct); // keep the pipe drained
            using var client = TestApp.Client(new Uri(serving));

            var traceId = ActivityTraceId.CreateRandom();
            var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
            using var response = await client.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            // The 16 bytes of the trace id, as the protobuf span carries them.
            var idBytes = Convert.FromHexString(traceId.ToHexString());
            bool TraceArrived() => posts.Any(p => p.Path == "/v1/traces" && p.Body.AsSpan().IndexOf(idBytes) >= 0);
            await TelemetryCapture.WaitUntilAsync(TraceArrived, "the trace at /v1/traces (posts: " + string.Join(", ", posts.Select(p => p.Path)) + ")",
                TimeSpan.FromSeconds(60));
            var traceBody = posts.First(p => p.Path == "/v1/traces" && p.Body.AsSpan().IndexOf(idBytes) >= 0).Body;
            Assert.True(Contains(traceBody, "otlp-e2e"), "service.name defaults to the application's name");
            Assert.True(Contains(traceBody, "Spindle.Trigger.Http"), "the scope is Spindle's ActivitySource");

            // Metrics export every 60 s by default: what arrives now comes from the flush at shutdown.
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])!) await kill.WaitForExitAsync(Ct);
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
            Assert.Equal(0, process.ExitCode);
            Assert.Contains(posts, p => p.Path == "/v1/metrics" && Contains(p.Body, "http.server.request.duration") && Contains(p.Body, "otlp-hello"));
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
}
