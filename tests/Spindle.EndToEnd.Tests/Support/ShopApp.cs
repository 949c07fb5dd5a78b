using Spindle.Hosting;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>
/// One application with many real components under base <c>/shop</c>, started once for a test class: JavaScript
/// (ComponentizeJS 0.22 and the Spin JS SDK), hand-written WAT, Wagi C modules, a static response, a private
/// component, file mounts, environment (manifest and <c>-e</c>) and component variables.
/// </summary>
public sealed class ShopApp(SharedRuntime runtime) : IAsyncLifetime
{
    /// <summary>The value given to the secret application variable; it must never reach the log.</summary>
    public const string Secret = "s3cret-t0ken-value";

    private readonly TestApp _app = new("""
        spin_manifest_version = 2
        [application]
        name = "shop"
        [application.trigger.http]
        base = "/shop"

        [variables]
        greeting = { default = "hello" }
        api_token = { required = true, secret = true }

        [[trigger.http]]
        route = "/hello"
        component = "hello"
        [[trigger.http]]
        route = "/echo/..."
        component = "echo"
        [[trigger.http]]
        route = "/users/:user_id/orders/:order"
        component = "echo-params"
        [[trigger.http]]
        route = { private = true }
        component = "internal"
        [[trigger.http]]
        route = "/static"
        static_response = { status_code = 201, headers = { x-kind = "static" }, body = "static body" }
        [[trigger.http]]
        route = "/files"
        component = "files"
        executor = { type = "wagi" }
        [[trigger.http]]
        route = "/wat-files"
        component = "wat-files"
        [[trigger.http]]
        route = "/env"
        component = "env"
        executor = { type = "wagi" }
        [[trigger.http]]
        route = "/vars"
        component = "vars"
        [[trigger.http]]
        route = "/spinjs"
        component = "spinjs"
        [[trigger.http]]
        route = "/wat"
        component = "wat"
        [[trigger.http]]
        route = "/trap"
        component = "trap"
        [[trigger.http]]
        route = "/throw"
        component = "throw"

        [component.hello]
        source = "{fixture:js/hello.wasm}"
        [component.echo]
        source = "{fixture:js/echo.wasm}"
        [component.echo-params]
        source = "{fixture:js/echo.wasm}"
        [component.internal]
        source = "{fixture:wat/http-hello.wasm}"
        [component.files]
        source = "{fixture:wagi/readfile.wasm}"
        files = [{ source = "assets", destination = "/data" }]
        [component.wat-files]
        source = "{fixture:wat/http-readfile.wasm}"
        files = [{ source = "assets", destination = "/data" }]
        [component.env]
        source = "{fixture:wagi/env.wasm}"
        environment = { FROM_MANIFEST = "manifest", OVERRIDDEN = "manifest" }
        [component.vars]
        source = "{fixture:js-spin/variables.wasm}"
        variables = { message = "{{ greeting }}, world", token = "{{ api_token }}" }
        [component.spinjs]
        source = "{fixture:spinjs/hello.wasm}"
        [component.wat]
        source = "{fixture:wat/http-hello.wasm}"
        [component.trap]
        source = "{fixture:wat/http-trap.wasm}"
        [component.throw]
        source = "{fixture:js/throw.wasm}"
        """);

    /// <summary>The running host.</summary>
    public SpindleHost Host { get; private set; } = null!;

    /// <summary>A client for the host.</summary>
    public HttpClient Client { get; private set; } = null!;

    /// <summary>Everything the host logged.</summary>
    public CapturedLog Log { get; } = new();

    /// <summary>The startup listing.</summary>
    public StringWriter Output { get; } = new();

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        _app.WriteFile("assets/hello.txt", "hello from a mounted file\n");
        Host = await _app.StartAsync(runtime, Log, o => new()
        {
            ManifestPath = o.ManifestPath,
            ListenAddress = o.ListenAddress,
            Executors = o.Executors,
            ConfigureLogging = o.ConfigureLogging,
            Output = Output,
            Environment = [new("OVERRIDDEN", "cli"), new("FROM_CLI", "cli")],
            Variables = [new("api_token", Secret)],
        });
        Client = TestApp.Client(Host.BaseUrl);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (Host is not null) await Host.DisposeAsync();
        _app.Dispose();
    }
}
