using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Spindle.App.Variables;
using Spindle.Components.Runtime;
using Spindle.Components.Values;
using Spindle.Spin;
using Spindle.Trigger.Http.Routing;
using Spindle.Trigger.Http.Spin;
using Spindle.Trigger.Http.Spin.Legacy;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview1;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors.SpinInbound;

/// <summary>
/// Spin's "Spin executor" (reference §3.2): runs a component exporting <c>fermyon:spin/inbound-http</c>, which is what
/// a first-generation Spin module becomes (<see cref="LegacySpinModule"/>). The whole request goes in as one record
/// (method as the WIT enum, <c>uri</c> = path and query as sent, every original header then the <c>spin-*</c> ones in
/// lower case, <c>params</c> empty, the whole body) and the whole response comes back as one. A method outside the
/// enum answers 405; a status outside 100..=600 or an invalid header answers 500; a repeated response header: the
/// last wins. One fresh instance per request, as Spin gives.
/// </summary>
public sealed class SpinInboundExecutor : IPooledExecutor
{
    private readonly Component _component;
    private readonly ComponentExport _handle;
    private readonly ComponentExport? _initialize;
    private readonly string _componentId;
    private readonly IReadOnlyList<KeyValuePair<string, string>> _environment;
    private readonly IReadOnlyList<WasiFileMount> _files;
    private readonly ILogger _logger;
    private readonly ILogger _outputLogger;
    private readonly OutboundHttpHandler? _outbound;
    private readonly VariableResolver? _variables;
    private readonly ComponentState? _state;

    private SpinInboundExecutor(WasmEngine engine, Component component, ComponentExport handle, string componentId,
        IReadOnlyList<KeyValuePair<string, string>> environment, IReadOnlyList<WasiFileMount> files, ILogger logger,
        OutboundHttpHandler? outbound, VariableResolver? variables, ComponentState? state, ILogger? outputLogger)
    {
        _outputLogger = outputLogger ?? logger;
        Engine = engine;
        _component = component;
        _handle = handle;
        _initialize = component.FindExport("", LegacySpinModule.Initialize);
        _componentId = componentId;
        _environment = environment;
        _files = files;
        _logger = logger;
        _outbound = outbound;
        _variables = variables;
        _state = state;
    }

    /// <inheritdoc />
    public WasmEngine Engine { get; }

    /// <inheritdoc />
    public int CoreInstancesPerRequest => Math.Max(1, _component.CoreInstanceCount);

    /// <summary>True when <paramref name="component"/> exports <c>fermyon:spin/inbound-http#handle-request</c>.</summary>
    public static bool Serves(Component component) => component.FindExport(LegacySpinModule.InboundInterface, LegacySpinModule.HandleRequest) is not null;

    /// <summary>Creates the executor for a loaded component (or first-generation module).</summary>
    /// <param name="engine">The engine it was loaded into.</param>
    /// <param name="component">It must export <c>fermyon:spin/inbound-http#handle-request</c>.</param>
    /// <param name="componentId">The component id (logs).</param>
    /// <param name="environment">The WASI environment (the manifest's <c>environment</c>).</param>
    /// <param name="files">The component's file mounts (a module's preview1 preopens; a component's are not used by this interface).</param>
    /// <param name="logger">Receives guest output and failures.</param>
    /// <param name="outbound">Sends outbound requests (null: every one is <c>destination-not-allowed</c>).</param>
    /// <param name="variables">What <c>get-config</c> resolves through.</param>
    /// <param name="state">The key-value stores and SQLite databases the component may open.</param>
    /// <param name="outputLogger">Receives the module's stdout and stderr lines (<see cref="Spindle.Wasi.GuestOutput"/>); null: <paramref name="logger"/>.</param>
    public static SpinInboundExecutor Create(WasmEngine engine, Component component, string componentId,
        IReadOnlyList<KeyValuePair<string, string>> environment, IReadOnlyList<WasiFileMount> files, ILogger logger,
        OutboundHttpHandler? outbound = null, VariableResolver? variables = null, ComponentState? state = null, ILogger? outputLogger = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(component);
        var handle = component.FindExport(LegacySpinModule.InboundInterface, LegacySpinModule.HandleRequest)
            ?? throw new InvalidOperationException($"component '{componentId}' does not export {LegacySpinModule.InboundInterface}#{LegacySpinModule.HandleRequest}");
        return new SpinInboundExecutor(engine, component, handle, componentId, environment, files, logger, outbound, variables, state, outputLogger);
    }

    /// <inheritdoc />
    public async Task ExecuteAsync(InboundRequest request)
    {
        var http = request.Http;
        var method = IndexOf(LegacyHttpTypes.MethodNames, http.Request.Method);
        if (method < 0)
        {
            http.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        var cancellation = request.Aborted;
        ReadOnlyMemory<byte> body;
        try
        {
            body = await RequestBody.ReadAllAsync(http.Request, cancellation).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            _logger.SpinRequestBodyUnreadable(_componentId, request.Describe(), e.Message);
            if (!http.Response.HasStarted) http.Response.StatusCode = e.StatusCode;
            return;
        }
        catch (OperationCanceledException)
        {
            return; // the client went away, or the deadline passed, before the body arrived: there is no one to answer
        }

        var stdout = new LoggerWasiOutput(_outputLogger, _componentId, "stdout");
        var stderr = new LoggerWasiOutput(_outputLogger, _componentId);
        using var context = new SpinWasiHttpContext
        {
            ComponentId = _componentId,
            Environment = _environment,
            Logger = _outputLogger,
            Cancellation = cancellation,
            Outbound = _outbound,
            Variables = _variables,
            KeyValue = _state?.KeyValue,
            Sqlite = _state?.Sqlite,
            InboundScheme = request.Scheme,
            ChainDepth = request.ChainDepth,
            Preview1 = new WasiPreview1Context([], _environment, MemoryWasiInput.Empty, stdout, stderr, _files, cancellation),
        };
        object?[] response;
        try
        {
            using var store = new WasmStore(Engine, context) { CancellationToken = cancellation, WaitObserver = request.WaitObserver };
            // A busy guest yields every epoch tick; the deadline (wall-clock, in the cancellation) is checked at each slice.
            store.ShareCpu();
            Telemetry.TriggerTelemetry.InstanceUsed(_componentId, reused: false);
            using var instance = await _component.InstantiateAsync(store, context, cancellation).ConfigureAwait(false);
            if (_initialize is not null) await instance.CallAsync(_initialize).ConfigureAwait(false);
            object?[] record = [method, RawRequestTarget.RawPathAndQuery(http).PathAndQuery, Headers(request), Array.Empty<object?>(), new Some(body.ToArray())];
            response = (object?[])(await instance.CallAsync(_handle, [record]).ConfigureAwait(false))!;
        }
        catch (Exception e)
        {
            var when = !cancellation.IsCancellationRequested ? ""
                : http.RequestAborted.IsCancellationRequested ? ", the client went away" : ", request timeout";
            _logger.GuestFailed(_componentId, request.Describe(), when, e.Message);
            if (!http.RequestAborted.IsCancellationRequested)
                Telemetry.TriggerTelemetry.GuestFailed(_componentId, e, timedOut: cancellation.IsCancellationRequested);
            if (!http.Response.HasStarted) http.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return;
        }
        finally
        {
            stdout.Dispose();
            stderr.Dispose();
        }
        await RespondAsync(request, response).ConfigureAwait(false);
    }

    /// <summary>Every header as the client sent it (names in lower case, each value apart), then the <c>spin-*</c> headers.</summary>
    private static object?[] Headers(InboundRequest request)
    {
        var list = new List<object?>();
        foreach (var (name, values) in request.Http.Request.Headers)
        {
            var lower = name.ToLowerInvariant();
            foreach (var value in values) list.Add(new object?[] { lower, value ?? "" });
        }
        foreach (var (name, value) in request.SpinHeaders) list.Add(new object?[] { name, value });
        return list.ToArray();
    }

    private async Task RespondAsync(InboundRequest request, object?[] response)
    {
        var http = request.Http;
        var status = (ushort)response[0]!;
        string? problem = status is < 100 or > 600 ? $"status {status} is outside 100..=600" : null;
        var headers = new List<(string Name, string Value)>();
        if (problem is null && response[1] is Some { Value: object?[] pairs })
            foreach (var pair in pairs)
            {
                var (name, value) = ((string)((object?[])pair!)[0]!, (string)((object?[])pair!)[1]!);
                if (!Fields.IsValidName(name) || !Fields.IsValidValue(Encoding.UTF8.GetBytes(value)))
                {
                    problem = $"invalid response header '{name}'";
                    break;
                }
                headers.Add((name, value));
            }
        if (problem is not null)
        {
            _logger.SpinInvalidResponse(_componentId, request.Describe(), problem);
            http.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return;
        }
        http.Response.StatusCode = status;
        foreach (var (name, value) in headers) http.Response.Headers[name] = value; // a repeated name: the last wins, as in Spin
        if (response[2] is Some { Value: byte[] bytes } && bytes.Length > 0)
        {
            // The body is whole: say its length (as Spin does) unless the guest did.
            if (!http.Response.Headers.ContainsKey("content-length")) http.Response.ContentLength = bytes.Length;
            try { await http.Response.Body.WriteAsync(bytes, request.Aborted).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or OperationCanceledException) { } // the client is gone
        }
    }

    private static int IndexOf(IReadOnlyList<string> names, string method)
    {
        for (var i = 0; i < names.Count; i++)
            if (names[i] == method) return i;
        return -1;
    }
}
