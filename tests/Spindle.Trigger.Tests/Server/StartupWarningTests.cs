using Microsoft.Extensions.Logging;
using Spindle.Hosting;
using Spindle.Trigger.Tests.Support;

namespace Spindle.Trigger.Tests.Server;

public sealed class StartupWarningTests
{
    [Fact]
    public async Task Duplicate_reserved_and_deprecated_things_are_logged_and_secrets_are_not()
    {
        using var app = new TempApp("""
            spin_manifest_version = 2
            [application]
            name = "warn"
            [application.trigger.http]
            base = "/"
            [variables]
            token = { default = "hunter2", secret = true }
            [[trigger.http]]
            route = "/a"
            static_response = { body = "first" }
            [[trigger.http]]
            route = "/a"
            static_response = { body = "second" }
            [[trigger.http]]
            route = "/.well-known/spin/..."
            static_response = { body = "never" }
            [[trigger.http]]
            route = "/c"
            component = "c"
            [component.c]
            source = "c.wasm"
            allowed_http_hosts = ["example.com"]
            variables = { t = "{{ token }}" }
            """, "c.wasm");
        var logs = new CapturingLoggerProvider();
        await using var host = await SpindleHost.StartAsync(new SpindleHostOptions
        {
            ManifestPath = app.ManifestPath,
            ListenAddress = "127.0.0.1:0",
            Executors = RunningHost.Registry(new EchoExecutorFactory()),
            Output = TextWriter.Null,
            ConfigureLogging = b => b.AddProvider(logs),
        }, TestContext.Current.CancellationToken);

        using var client = new HttpClient { BaseAddress = host.BaseUrl };
        Assert.Equal("second", await client.GetStringAsync("/a", TestContext.Current.CancellationToken));

        var lines = logs.Entries.ToList();
        Assert.Contains(lines, l => l.Level == LogLevel.Error && l.Message.Contains("duplicates and will never be used") && l.Message.Contains("'/a'"));
        Assert.Contains(lines, l => l.Level == LogLevel.Error && l.Message.Contains("/.well-known/spin/...") && l.Message.Contains("reserved"));
        Assert.Contains(lines, l => l.Level == LogLevel.Warning && l.Message.Contains("allowed_http_hosts is deprecated"));
        Assert.Contains(lines, l => l.Level == LogLevel.Warning && l.Message.Contains("base"));
        Assert.DoesNotContain(lines, l => l.Message.Contains("hunter2"));
    }
}
