using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http;
using Spindle.EndToEnd.Tests.Support;

namespace Spindle.EndToEnd.Tests.Outbound;

/// <summary>
/// Spindle's spans and metrics observed in process (ActivityListener, MeterListener) for a chain of two components
/// (front → <c>tel-mid.spin.internal</c> → a loopback upstream) and for a trapping component: one trace from the
/// client's <c>traceparent</c> to the upstream, parent/child links, attributes, error status on a trap.
/// Not proved here: export (<c>OtlpExportTests</c>).
/// </summary>
public sealed class TelemetryTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task One_trace_spans_the_client_a_chain_of_two_components_and_the_upstream()
    {
        using var capture = new TelemetryCapture("tel-front", "tel-mid");
        var received = new ConcurrentQueue<string[]>();
        await using var upstream = await Upstream.StartAsync(async context =>
        {
            received.Enqueue(context.Request.Headers["traceparent"].Select(v => v ?? "").ToArray());
            await context.Response.WriteAsync("from upstream");
        });
        var log = new CapturedLog();
        using var app = new TestApp($$"""
            spin_manifest_version = 2
            [application]
            name = "telemetry-chain"
            [[trigger.http]]
            route = "/front/..."
            component = "tel-front"
            [[trigger.http]]
            route = { private = true }
            component = "tel-mid"
            [component.tel-front]
            source = "{fixture:js/fetch-proxy.wasm}"
            allowed_outbound_hosts = ["http://*.spin.internal"]
            [component.tel-mid]
            source = "{fixture:js/fetch-proxy.wasm}"
            allowed_outbound_hosts = ["{{upstream.BaseUrl}}"]
            """);
        await using var host = await app.StartAsync(runtime, log);
        using var client = TestApp.Client(host.BaseUrl);

        var (traceParent, traceId, clientSpanId) = capture.Trace();
        var request = new HttpRequestMessage(HttpMethod.Get, "/front/go");
        request.Headers.Add("traceparent", traceParent);
        request.Headers.Add("x-target", "http://tel-mid.spin.internal/mid");
        request.Headers.Add("x-up-x-target", upstream.BaseUrl + "/up");
        // mid's guest sets a traceparent of its own on the fetch: the outbound span's replaces it.
        request.Headers.Add("x-up-x-up-traceparent", $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await client.SendAsync(request, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, log.Text);
        Assert.Equal("from upstream", await response.Content.ReadAsStringAsync(Ct));

        await TelemetryCapture.WaitUntilAsync(() => capture.Spans(traceId).Count >= 6, "six spans of the trace");
        var spans = capture.Spans(traceId);
        Activity Span(ActivityKind kind, string component) =>
            Assert.Single(spans, s => s.Kind == kind && (string?)s.GetTagItem("spindle.component.id") == component);

        var frontServer = Span(ActivityKind.Server, "tel-front");
        var frontGuest = Span(ActivityKind.Internal, "tel-front");
        var chainCall = Span(ActivityKind.Client, "tel-front");
        var midServer = Span(ActivityKind.Server, "tel-mid");
        var midGuest = Span(ActivityKind.Internal, "tel-mid");
        var upstreamCall = Span(ActivityKind.Client, "tel-mid");

        // The client's span → front's request → its guest → the chained call → mid's request → its guest → the fetch.
        Assert.Equal(clientSpanId, frontServer.ParentSpanId);
        Assert.Equal(frontServer.SpanId, frontGuest.ParentSpanId);
        Assert.Equal(frontGuest.SpanId, chainCall.ParentSpanId);
        Assert.Equal(chainCall.SpanId, midServer.ParentSpanId);
        Assert.Equal(midServer.SpanId, midGuest.ParentSpanId);
        Assert.Equal(midGuest.SpanId, upstreamCall.ParentSpanId);

        // Exactly one traceparent reached the upstream: the outbound span's, not the guest's.
        var headers = Assert.Single(received);
        Assert.Equal($"00-{traceId}-{upstreamCall.SpanId}-01", Assert.Single(headers));

        Assert.Equal("GET /front/...", frontServer.DisplayName);
        Assert.Equal("/front/...", frontServer.GetTagItem("http.route"));
        Assert.Equal("GET", frontServer.GetTagItem("http.request.method"));
        Assert.Equal(200, frontServer.GetTagItem("http.response.status_code"));
        Assert.Equal(ActivityStatusCode.Unset, frontServer.Status);
        Assert.Equal("guest tel-front", frontGuest.DisplayName);
        Assert.NotNull(frontGuest.GetTagItem("spindle.instance.reused"));
        Assert.Equal("tel-mid.spin.internal", chainCall.GetTagItem("server.address"));
        Assert.Equal("tel-mid", chainCall.GetTagItem("spindle.chain.callee"));
        Assert.Equal(200, chainCall.GetTagItem("http.response.status_code"));
        Assert.Equal(1, midServer.GetTagItem("spindle.chain.depth"));
        Assert.Equal("127.0.0.1", upstreamCall.GetTagItem("server.address"));
        Assert.Equal(upstream.Port, upstreamCall.GetTagItem("server.port"));
        Assert.Equal("GET", upstreamCall.DisplayName);
        Assert.Equal(200, upstreamCall.GetTagItem("http.response.status_code"));

        // Metrics, by component.
        await TelemetryCapture.WaitUntilAsync(() => capture.Of("http.server.request.duration").Count(m => m.Tag("spindle.component.id") == "tel-front") >= 1,
            "the front request's duration");
        Assert.Contains(capture.Of("spindle.requests"), m => m.Tag("spindle.component.id") == "tel-front" && m.Tag("http.route") == "/front/..." && m.Tag("spindle.status_class") == "2xx");
        Assert.Contains(capture.Of("spindle.requests"), m => m.Tag("spindle.component.id") == "tel-mid" && m.Tag("spindle.status_class") == "2xx");
        Assert.Contains(capture.Of("http.server.request.duration"), m => m.Tag("spindle.component.id") == "tel-front" && m.Tag("http.response.status_code") == "200" && m.Value > 0);
        Assert.Contains(capture.Of("spindle.guest.duration"), m => m.Tag("spindle.component.id") == "tel-mid" && m.Value > 0);
        Assert.Contains(capture.Of("spindle.instances"), m => m.Tag("spindle.component.id") == "tel-front" && m.Tag("spindle.instance.reused") is "True" or "False");
        Assert.Contains(capture.Of("http.client.request.duration"), m => m.Tag("spindle.component.id") == "tel-mid" && m.Tag("server.address") == "127.0.0.1"
            && m.Tag("http.response.status_code") == "200");
        Assert.Contains(capture.Of("spindle.outbound.requests"), m => m.Tag("spindle.component.id") == "tel-mid" && m.Tag("server.address") == "127.0.0.1"
            && m.Tag("spindle.outbound.outcome") == "2xx");
        Assert.Contains(capture.Of("spindle.outbound.requests"), m => m.Tag("spindle.component.id") == "tel-front" && m.Tag("server.address") == "tel-mid.spin.internal");
        capture.Observe();
        Assert.Contains(capture.Of("spindle.pool.instances.capacity"), m => m.Value > 0);
        Assert.NotEmpty(capture.Of("spindle.pool.instances.in_use"));

        // A second request reuses front's warm instance (instance reuse is on by default).
        var (traceParent2, traceId2, _) = capture.Trace();
        var again = new HttpRequestMessage(HttpMethod.Get, "/front/again");
        again.Headers.Add("traceparent", traceParent2);
        again.Headers.Add("x-target", "http://tel-mid.spin.internal/mid");
        again.Headers.Add("x-up-x-target", upstream.BaseUrl + "/up");
        using var second = await client.SendAsync(again, Ct);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        await TelemetryCapture.WaitUntilAsync(() => capture.Spans(traceId2).Count >= 6, "six spans of the second trace");
        Assert.Contains(capture.Of("spindle.instances"), m => m.Tag("spindle.component.id") == "tel-front" && m.Tag("spindle.instance.reused") == "True");
    }

    [Fact]
    public async Task A_trapping_guest_marks_its_guest_and_request_spans_as_errors_and_counts_the_trap()
    {
        using var capture = new TelemetryCapture("tel-trap");
        var log = new CapturedLog();
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "telemetry-trap"
            [[trigger.http]]
            route = "/trap"
            component = "tel-trap"
            [component.tel-trap]
            source = "{fixture:wat/http-trap.wasm}"
            """);
        await using var host = await app.StartAsync(runtime, log);
        using var client = TestApp.Client(host.BaseUrl);

        // No ASP.NET Core activity need exist: the header alone is continued.
        var (traceParent, traceId, clientSpanId) = capture.Trace();
        var request = new HttpRequestMessage(HttpMethod.Get, "/trap");
        request.Headers.Add("traceparent", traceParent);
        using var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);

        await TelemetryCapture.WaitUntilAsync(() => capture.Spans(traceId).Count >= 2, "the request and guest spans");
        var spans = capture.Spans(traceId);
        var server = Assert.Single(spans, s => s.Kind == ActivityKind.Server);
        var guest = Assert.Single(spans, s => s.Kind == ActivityKind.Internal);
        Assert.Equal(clientSpanId, server.ParentSpanId);
        Assert.Equal(server.SpanId, guest.ParentSpanId);
        Assert.Equal(ActivityStatusCode.Error, guest.Status);
        Assert.Equal("trap", guest.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, server.Status);
        Assert.Equal(500, server.GetTagItem("http.response.status_code"));
        Assert.Equal("500", server.GetTagItem("error.type"));

        await TelemetryCapture.WaitUntilAsync(() => capture.Of("spindle.requests").Any(m => m.Tag("spindle.status_class") == "5xx"), "the 5xx request count");
        Assert.Contains(capture.Of("spindle.guest.traps"), m => m.Tag("spindle.component.id") == "tel-trap" && m.Value == 1);
        Assert.DoesNotContain(capture.Of("spindle.guest.timeouts"), m => m.Tag("spindle.component.id") == "tel-trap");
    }

    [Fact]
    public async Task With_ASP_NET_Cores_request_activity_present_the_request_span_is_its_child()
    {
        using var capture = new TelemetryCapture("tel-hello");
        var (traceParent, traceId, clientSpanId) = capture.Trace();
        var hosting = new ConcurrentQueue<Activity>();
        // Something else listening to ASP.NET Core makes it create its request activity (continuing the client's context).
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.TraceId == traceId) hosting.Enqueue(a);
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "telemetry-hosting"
            [[trigger.http]]
            route = "/hello"
            component = "tel-hello"
            [component.tel-hello]
            source = "{fixture:wat/http-hello.wasm}"
            """);
        await using var host = await app.StartAsync(runtime);
        using var client = TestApp.Client(host.BaseUrl);

        var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
        request.Headers.Add("traceparent", traceParent);
        using var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await TelemetryCapture.WaitUntilAsync(() => capture.Spans(traceId).Count >= 2 && !hosting.IsEmpty, "the request, guest and hosting spans");
        var aspNetCore = Assert.Single(hosting);
        var server = Assert.Single(capture.Spans(traceId), s => s.Kind == ActivityKind.Server);
        Assert.Equal(clientSpanId, aspNetCore.ParentSpanId);
        Assert.Equal(aspNetCore.SpanId, server.ParentSpanId);
        Assert.Equal("GET /hello", server.DisplayName);
    }

    [Fact]
    public async Task A_guest_stopped_at_the_request_timeout_marks_its_guest_span_as_a_timeout_and_is_counted()
    {
        using var capture = new TelemetryCapture("tel-loop");
        using var app = new TestApp("""
            spin_manifest_version = 2
            [application]
            name = "telemetry-timeout"
            [[trigger.http]]
            route = "/loop"
            component = "tel-loop"
            [component.tel-loop]
            source = "{fixture:wat/http-loop.wasm}"
            """);
        await using var host = await app.StartAsync(runtime, configure: o => o with { Server = o.Server with { RequestTimeout = TimeSpan.FromMilliseconds(300) } });
        using var client = TestApp.Client(host.BaseUrl);

        var (traceParent, traceId, _) = capture.Trace();
        var request = new HttpRequestMessage(HttpMethod.Get, "/loop");
        request.Headers.Add("traceparent", traceParent);
        using var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);

        await TelemetryCapture.WaitUntilAsync(() => capture.Spans(traceId).Count >= 2, "the request and guest spans");
        var guest = Assert.Single(capture.Spans(traceId), s => s.Kind == ActivityKind.Internal);
        Assert.Equal(ActivityStatusCode.Error, guest.Status);
        Assert.Equal("timeout", guest.GetTagItem("error.type"));
        Assert.Contains(capture.Of("spindle.guest.timeouts"), m => m.Tag("spindle.component.id") == "tel-loop");
        Assert.DoesNotContain(capture.Of("spindle.guest.traps"), m => m.Tag("spindle.component.id") == "tel-loop");
    }
}
