using System.Net;
using Spindle.Trigger.Http.Executors.WasiHttp;
using Spindle.Wasmtime;

namespace Spindle.Wasi.Tests;

/// <summary>One engine for the JS guests (compiling a 12 MB StarlingMonkey component is slow; the artifact cache makes it once).</summary>
public sealed class JsEngineFixture : IDisposable
{
    public WasmEngine Engine { get; } = new();

    private readonly Dictionary<string, WasiHttpExecutor> _executors = [];

    internal static string? FixturePath(string name)
    {
        var dir = Environment.GetEnvironmentVariable("SPINDLE_JS_FIXTURES") ?? "/work/main/artifacts/fixtures/js";
        var path = Path.Combine(dir, name);
        return File.Exists(path) ? path : null;
    }

    internal WasiHttpExecutor Executor(string name, TestLogSink logs, TimeSpan? timeout = null)
    {
        var path = FixturePath(name);
        if (path is null)
            Assert.Skip($"JS fixture {name} is not built (set SPINDLE_JS_FIXTURES)");
        lock (_executors)
        {
            // The component (compiled once) is shared; each executor gets the test's logger.
            var component = _components.TryGetValue(name, out var c) ? c : _components[name] =
                Components.Runtime.Component.Load(Engine, File.ReadAllBytes(path), WasiHost.CreateRegistry());
            return WasiHttpExecutor.Create(Engine, component, Path.GetFileNameWithoutExtension(name), [new("GREETING", "hi")], logs, timeout);
        }
    }

    private readonly Dictionary<string, Components.Runtime.Component> _components = [];

    public void Dispose()
    {
        foreach (var c in _components.Values)
            c.Dispose();
        Engine.Dispose();
    }
}

public class JsGuestTests(JsEngineFixture fixture) : IClassFixture<JsEngineFixture>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hello_answers_through_kestrel()
    {
        var logs = new TestLogSink();
        var executor = fixture.Executor("hello.wasm", logs);
        await using var server = await TestServer.StartAsync(executor.ServeAsync, logs);
        using var response = await server.Client.GetAsync("/hello?x=1", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {body}\n{string.Join("\n", logs.Lines)}");
        Assert.NotEmpty(body);
    }
}
