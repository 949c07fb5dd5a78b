using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Spindle.App.Manifest;
using Spindle.App.Model;
using Spindle.App.Variables;
using Spindle.Trigger.Http.Executors;
using Spindle.Trigger.Http.Server;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Server;

/// <summary>The receiving side of service chaining: in-process, router bypassed, synthetic /... match.</summary>
public sealed class ChainedRequestTests
{
    [Fact]
    public async Task A_private_component_is_reached_with_Spins_synthetic_match()
    {
        using var app = new TempApp("""
            spin_manifest_version = 2
            [application]
            name = "chain"
            [[trigger.http]]
            route = { private = true }
            component = "backend"
            [component.backend]
            source = "backend.wasm"
            [component.lonely]
            source = "backend.wasm"
            """, "backend.wasm");
        var model = ManifestLoader.Load(app.ManifestPath);
        var echo = new EchoExecutorFactory();
        await using var spin = SpinHttpApplication.Create(model, VariableResolver.Create(model, []),
            new ExecutorFactoryRegistry().Add(ExecutorKind.Http, echo), NullLoggerFactory.Instance);
        var trigger = new SpinHttpTrigger(spin);

        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/api/items";
        context.Request.QueryString = new QueryString("?x=1");
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = "/api/items?x=1";
        context.Request.Headers.Host = "backend.spin.internal";
        var body = new MemoryStream();
        context.Response.Body = body;

        await trigger.ExecuteChainedAsync(context, "backend");

        Assert.Equal(200, context.Response.StatusCode);
        var (component, headers) = EchoExecutorFactory.Parse(System.Text.Encoding.UTF8.GetString(body.ToArray()));
        Assert.Equal("backend", component);
        var spinHeaders = headers.Where(h => h.Key.StartsWith("spin-", StringComparison.Ordinal)).ToDictionary(h => h.Key, h => h.Value);
        Assert.Equal("/api/items", spinHeaders["spin-path-info"]);
        Assert.Equal("/...", spinHeaders["spin-matched-route"]);
        Assert.Equal("/...", spinHeaders["spin-raw-component-route"]);
        Assert.Equal("", spinHeaders["spin-component-route"]);
        Assert.Equal("0.0.0.0:0", spinHeaders["spin-client-addr"]);
        Assert.Equal("http://localhost/api/items?x=1", spinHeaders["spin-full-url"]);
        Assert.DoesNotContain(headers, h => h.Key == "host");

        await Assert.ThrowsAsync<InvalidOperationException>(() => trigger.ExecuteChainedAsync(new DefaultHttpContext(), "lonely"));
    }
}
