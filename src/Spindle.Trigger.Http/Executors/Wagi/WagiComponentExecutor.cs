using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Spindle.Components;
using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Values;
using Spindle.Wasi;
using Spindle.Wasi.Preview2;
using Spindle.Wasi.Preview2.Filesystem;
using Spindle.Wasi.Preview2.Io;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors.Wagi;

/// <summary>
/// Runs a <c>wasi:cli/run</c> component with <c>executor = { type = "wagi" }</c>: the same CGI contract as a
/// preview1 module (spec §4) through WASI 0.2 stdio. The CGI environment and argv come from
/// <see cref="WagiCgiEnvironment"/>, <c>get-stdin</c> streams the request body from Kestrel, <c>get-stdout</c> is
/// parsed and streamed by <see cref="WagiResponseWriter"/>, stderr is logged. One store and instance per request.
/// </summary>
public sealed class WagiComponentExecutor : IRequestExecutor, IDisposable
{
    /// <summary>The export a command component provides (any 0.2 patch version matches).</summary>
    public const string RunInterface = "wasi:cli/run@" + WasiHost.Version;

    private readonly WagiOptions _options;
    private readonly Component _component;
    private readonly ComponentExport _run;
    private readonly WasiPreopen[] _preopens;
    private readonly ILogger _logger;

    private WagiComponentExecutor(WagiOptions options, Component component, ComponentExport run)
    {
        _options = options;
        _component = component;
        _run = run;
        _preopens = [.. options.Files.Select(f => new WasiPreopen(f.HostPath, f.GuestPath))];
        _logger = options.Logger;
    }

    /// <summary>True when the Wagi source (<see cref="WagiOptions.ModuleBytes"/> or the file) is a component, not a core module.</summary>
    /// <exception cref="WagiLoadException">The file cannot be read.</exception>
    public static bool IsComponent(WagiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ModuleBytes is { } bytes)
            return IsComponent(bytes.Span);
        if (options.ModulePath is not { } path)
            return false; // WagiExecutor.Create reports the missing source
        var header = new byte[8];
        try
        {
            using var file = File.OpenRead(path);
            return file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) == header.Length && IsComponent(header);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WagiLoadException($"component '{options.ComponentId}' ({path}): cannot read the module: {e.Message}", e);
        }
    }

    // The preamble: magic, then version 0x0d and layer 1 (a core module has layer 0).
    private static bool IsComponent(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 8 && bytes[..4].SequenceEqual("\0asm"u8) && bytes[6] == 1 && bytes[7] == 0;

    /// <summary>
    /// Loads a Wagi component:
    /// 1. refuses an <c>entrypoint</c> other than <c>_start</c> (a component's entry is <c>wasi:cli/run#run</c>);
    /// 2. checks the mounted directories exist;
    /// 3. loads the component against <paramref name="host"/> (default: every WASI 0.2 interface) and finds
    ///    <c>wasi:cli/run@0.2.x#run</c>.
    /// Throws <see cref="WagiLoadException"/> naming the component, file and problem.
    /// </summary>
    public static WagiComponentExecutor Create(WagiOptions options, HostRegistry? host = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var where = $"component '{options.ComponentId}'" + (options.ModulePath is { } p ? $" ({p})" : "");
        if (options.Entrypoint != "_start")
            throw new WagiLoadException($"{where}: executor.entrypoint = \"{options.Entrypoint}\" cannot be used with a component; a wasi:cli/run component always starts at wasi:cli/run#run (remove the entrypoint option)");
        byte[] bytes;
        try
        {
            bytes = options.ModuleBytes is { } m ? m.ToArray()
                : options.ModulePath is { } path ? File.ReadAllBytes(path)
                : throw new WagiLoadException($"{where}: neither module bytes nor a module path was given");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WagiLoadException($"{where}: cannot read the component: {e.Message}", e);
        }
        if (!IsComponent(bytes))
            throw new WagiLoadException($"{where}: not a WebAssembly component");
        foreach (var mount in options.Files)
            if (!Directory.Exists(mount.HostPath))
                throw new WagiLoadException($"{where}: mounted directory '{mount.HostPath}' (guest '{mount.GuestPath}') does not exist");

        Component component;
        try
        {
            component = Component.Load(options.Engine, bytes, host ?? WasiHost.CreateRegistry(), options.CompileProgress);
        }
        catch (Exception e) when (e is ComponentLoadException or WasmtimeException or InvalidOperationException)
        {
            throw new WagiLoadException($"{where}: cannot load the component: {e.Message}", e);
        }
        var run = component.FindExport(RunInterface, "run");
        if (run is null)
        {
            var exports = string.Join(", ", component.Exports);
            component.Dispose();
            throw new WagiLoadException($"{where}: a Wagi component must export wasi:cli/run@0.2.x#run (a command); it exports: {(exports.Length == 0 ? "nothing" : exports)}");
        }
        return new WagiComponentExecutor(options, component, run);
    }

    /// <summary>
    /// Handles one request:
    /// 1. builds the CGI environment and argv and prepares stdin (streamed when the length is known);
    /// 2. instantiates the component in a new store with the epoch deadline and calls <c>run</c>;
    /// 3. stdout is parsed and streamed as it is written (<see cref="WagiStdoutStream"/>);
    /// 4. <c>run</c> returning err or <c>wasi:cli/exit</c> with a failure status, a trap or the timeout: 500 before
    ///    the headers, an aborted response after.
    /// </summary>
    public async Task ExecuteAsync(InboundRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var http = request.Http;
        var id = _options.ComponentId;
        // Unlike a wasi:http guest, a CGI module reads its whole stdin as one input: a client gone mid-body must stop it.
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(request.Aborted, http.RequestAborted);
        if (_options.RequestTimeout is { } timeout) cancellation.CancelAfter(timeout);
        var started = Stopwatch.GetTimestamp();
        var writer = new WagiResponseWriter(http.Response);
        var stdout = new WagiStdoutStream(writer, cancellation.Token);
        string? failure = null;
        var failureStatus = StatusCodes.Status500InternalServerError;
        Exception? unread = null; // a failed read of the streamed body, as the guest saw it
        InputStream? stdin = null;
        WasiContext? context = null;
        WasmStore? store = null;
        ComponentInstance? instance = null;
        try
        {
            (stdin, var contentLength) = await PrepareStdinAsync(http, e => { unread ??= e; writer.Discard(); }, cancellation.Token).ConfigureAwait(false);
            var body = stdin;
            context = new WasiContext
            {
                ComponentId = id,
                Environment = WagiCgiEnvironment.Build(request, _options.Environment, contentLength),
                Arguments = WagiCgiEnvironment.BuildArgv(_options.Argv, WagiCgiEnvironment.RawPath(http), WagiCgiEnvironment.RawQuery(http)),
                Preopens = _preopens,
                Logger = _options.OutputLogger ?? _logger,
                Stdin = () => body,
                StdoutStream = () => stdout,
                Cancellation = cancellation.Token,
            };
            // Cancelling the store abandons a call stuck in a host wait (timeout, client gone).
            store = new WasmStore(_options.Engine, context) { CancellationToken = cancellation.Token };
            store.ShareCpu(); // time slices; the deadline is the cancellation's (wall-clock)
            try
            {
                Telemetry.TriggerTelemetry.InstanceUsed(id, reused: false);
                instance = await _component.InstantiateAsync(store, context, cancellation.Token).ConfigureAwait(false);
                var result = await instance.CallAsync(_run).ConfigureAwait(false);
                if (result is ResultValue { IsOk: false })
                    failure = "wasi:cli/run returned err";
            }
            catch (Exception) when (context.ExitStatus is { } code && !cancellation.IsCancellationRequested)
            {
                // wasi:cli/exit unwinds the guest: that is the program's normal end.
                if (code != 0) failure = $"exited with status {code}";
            }
            await stdout.DrainAsync().ConfigureAwait(false);
            failure ??= stdout.Failure;
        }
        catch (Exception e) when (e is ComponentTrapException or WasmtimeException or OperationCanceledException or IOException)
        {
            if (!http.RequestAborted.IsCancellationRequested && e is not BadHttpRequestException)
                Telemetry.TriggerTelemetry.GuestFailed(_options.ComponentId, e, timedOut: cancellation.IsCancellationRequested);
            failure = cancellation.IsCancellationRequested
                ? (http.RequestAborted.IsCancellationRequested ? "the client went away" : $"timed out after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms")
                : e is ComponentTrapException ? "trapped: " + e.Message
                : e is BadHttpRequestException bad ? BodyFailed(e, bad.StatusCode)
                : e.Message;
        }
        finally
        {
            instance?.Dispose();
            store?.Dispose();
            context?.Dispose(); // logs a partial stderr line
            stdin?.Dispose();
        }
        // The guest saw a read error on stdin: whatever it made of it, its output is not the answer to the request.
        if (unread is not null && !cancellation.IsCancellationRequested)
            failure = BodyFailed(unread, RequestBody.ClientErrorStatus(unread) ?? StatusCodes.Status500InternalServerError);
        await WagiCompletion.FinishAsync(http, writer, failure, id, request.Describe(), _logger, failureStatus).ConfigureAwait(false);

        string BodyFailed(Exception e, int status)
        {
            failureStatus = status;
            return "the request body could not be read: " + e.Message;
        }
    }

    /// <summary>
    /// stdin and CONTENT_LENGTH. With a Content-Length the body streams from Kestrel as the guest reads it;
    /// without one (chunked, HTTP/2 without the header) it is read first, because CONTENT_LENGTH must be known
    /// before the guest starts (as the core-module path and Spin do).
    /// </summary>
    /// <param name="http">The request.</param>
    /// <param name="readFailed">Told about a failed read of the streamed body (the guest gets a stream error; its output is then dropped).</param>
    /// <param name="cancellationToken">Ends the buffering read.</param>
    private static async Task<(InputStream Stdin, long Length)> PrepareStdinAsync(HttpContext http, Action<Exception> readFailed, CancellationToken cancellationToken)
    {
        var request = http.Request;
        if (request.ContentLength is { } length)
            return (new PipeInputStream(request.BodyReader, completeReaderOnDispose: false, errorCode: e => { readFailed(e); return null; }), length);
        if (http.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
            return (InputStream.Empty(), 0);
        var whole = await RequestBody.ReadAllAsync(request, cancellationToken).ConfigureAwait(false);
        return (InputStream.FromBytes(whole), whole.Length);
    }

    /// <summary>Releases the loaded component.</summary>
    public void Dispose() => _component.Dispose();
}
