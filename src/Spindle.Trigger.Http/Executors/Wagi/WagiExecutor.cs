using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Spindle.Wasi.Preview1;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors.Wagi;

/// <summary>
/// Runs a WASI preview1 command module per request, CGI style (spec §4): request facts in the environment and
/// argv, the body on stdin, the response parsed from stdout and streamed as it is written. The module is
/// compiled (or loaded from the artifact cache) and pre-linked once; each request gets a new store and instance.
/// </summary>
public sealed class WagiExecutor : IPooledExecutor, IDisposable
{
    private readonly WagiOptions _options;
    private readonly WasmModule _module;
    private readonly WasmLinker _linker;
    private readonly WasmInstancePre _pre;
    private readonly int _entryResults;
    private readonly ILogger _logger;

    private WagiExecutor(WagiOptions options, WasmModule module, WasmLinker linker, WasmInstancePre pre, int entryResults)
    {
        _options = options;
        _module = module;
        _linker = linker;
        _pre = pre;
        _entryResults = entryResults;
        _logger = options.Logger;
    }

    /// <summary>
    /// Loads a Wagi component:
    /// 1. reads the module (bytes or file) and refuses components (<c>wasi:cli/run</c> components run in <see cref="WagiComponentExecutor"/>);
    /// 2. compiles it through the artifact cache;
    /// 3. checks the entrypoint export and that every import is <c>wasi_snapshot_preview1</c>;
    /// 4. links the preview1 host and pre-instantiates.
    /// Throws <see cref="WagiLoadException"/> naming the component and file.
    /// </summary>
    public static WagiExecutor Create(WagiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var where = $"component '{options.ComponentId}'" + (options.ModulePath is { } p ? $" ({p})" : "");
        byte[] bytes;
        try
        {
            bytes = options.ModuleBytes is { } m ? m.ToArray()
                : options.ModulePath is { } path ? File.ReadAllBytes(path)
                : throw new WagiLoadException($"{where}: neither module bytes nor a module path was given");
        }
        catch (IOException e)
        {
            throw new WagiLoadException($"{where}: cannot read the module: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new WagiLoadException($"{where}: cannot read the module: {e.Message}", e);
        }

        if (bytes.Length < 8 || bytes[0] != 0 || bytes[1] != (byte)'a' || bytes[2] != (byte)'s' || bytes[3] != (byte)'m')
            throw new WagiLoadException($"{where}: not a WebAssembly binary (bad magic number)");
        if (bytes[6] == 1 && bytes[7] == 0) // layer 1: a component
            throw new WagiLoadException($"{where}: is a WebAssembly component (wasi:cli/run); the Wagi executor runs WASI preview1 core modules only, run it with WagiComponentExecutor (spindle up chooses it by itself)");

        foreach (var mount in options.Files)
            if (!Directory.Exists(mount.HostPath))
                throw new WagiLoadException($"{where}: mounted directory '{mount.HostPath}' (guest '{mount.GuestPath}') does not exist");

        WasmModule module;
        try
        {
            module = options.UseArtifactCache
                ? ArtifactCache.LoadOrCompile(options.Engine, bytes, options.CompileProgress)
                : WasmModule.Compile(options.Engine, bytes);
        }
        catch (WasmtimeException e)
        {
            throw new WagiLoadException($"{where}: invalid module: {e.Message}", e);
        }

        WasmLinker? linker = null;
        try
        {
            var entry = module.Exports.FirstOrDefault(x => x.Name == options.Entrypoint);
            if (entry is null)
                throw new WagiLoadException($"{where}: the module has no export named '{options.Entrypoint}' to use as the Wagi entrypoint (function exports: {string.Join(", ", module.Exports.Where(x => x.Kind == WasmExternKind.Func).Select(x => x.Name))})");
            if (entry.Kind != WasmExternKind.Func || entry.FuncType is null)
                throw new WagiLoadException($"{where}: the entrypoint export '{options.Entrypoint}' is a {entry.Kind.ToString().ToLowerInvariant()}, not a function");
            if (entry.FuncType.Parameters.Count != 0)
                throw new WagiLoadException($"{where}: the entrypoint function '{options.Entrypoint}' takes {entry.FuncType.Parameters.Count} parameters; it must take none");
            var foreign = module.Imports.FirstOrDefault(i => i.Module != WasiPreview1Linker.ModuleName);
            if (foreign is not null)
                throw new WagiLoadException($"{where}: imports '{foreign.Module}.{foreign.Name}', which a Wagi module cannot use (only {WasiPreview1Linker.ModuleName} is provided)");

            linker = new WasmLinker(options.Engine);
            WasiPreview1Linker.Define(linker);
            WasiPreview1Linker.DefineMissing(linker, module);
            var pre = linker.InstantiatePre(module);
            return new WagiExecutor(options, module, linker, pre, entry.FuncType.Results.Count);
        }
        catch (WasmtimeException e)
        {
            linker?.Dispose();
            module.Dispose();
            throw new WagiLoadException($"{where}: cannot link the module: {e.Message}", e);
        }
        catch
        {
            linker?.Dispose();
            module.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public WasmEngine Engine => _options.Engine;

    /// <inheritdoc />
    public int CoreInstancesPerRequest => 1;

    /// <inheritdoc />
    public async Task ExecuteAsync(InboundRequest request)
    {
        var http = request.Http;
        // Unlike a wasi:http guest, a CGI module reads its whole stdin as one input: a client gone mid-body must stop it.
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(request.Aborted, http.RequestAborted);
        if (_options.RequestTimeout is { } timeout) cancellation.CancelAfter(timeout);
        var started = Stopwatch.GetTimestamp();
        var writer = new WagiResponseWriter(http.Response);
        string? failure = null;
        var failureStatus = StatusCodes.Status500InternalServerError;
        WasiPreview1Context? wasi = null;
        BodyStdin? body = null;
        try
        {
            var (stdin, contentLength) = await PrepareStdinAsync(http, writer, cancellation.Token).ConfigureAwait(false);
            body = stdin as BodyStdin;
            // Built only if the guest asks (environ_get / args_get): many modules read neither.
            IReadOnlyList<KeyValuePair<string, string>> Env() => WagiCgiEnvironment.Build(request, _options.Environment, contentLength);
            IReadOnlyList<string> Argv() => WagiCgiEnvironment.BuildArgv(_options.Argv, WagiCgiEnvironment.RawPath(http), WagiCgiEnvironment.RawQuery(http));
            using var stderr = new LoggerWasiOutput(_options.OutputLogger ?? _logger, _options.ComponentId);
            wasi = new WasiPreview1Context(Argv, Env, stdin, writer, stderr, _options.Files, cancellation.Token);
            // Time slices; the deadline is the cancellation's (wall-clock), checked at every slice.
            using var store = new WasmStore(_options.Engine, wasi) { CancellationToken = cancellation.Token };
            store.ShareCpu();
            try
            {
                Telemetry.TriggerTelemetry.InstanceUsed(_options.ComponentId, reused: false);
                var instance = await _pre.InstantiateAsync(store).ConfigureAwait(false);
                var entry = instance.GetFunc(store, _options.Entrypoint);
                await entry.CallAsync(store, Array.Empty<WasmValue>(), _entryResults).ConfigureAwait(false);
            }
            catch (WasmtimeException) when (wasi.ExitCode is { } code)
            {
                // proc_exit unwinds the guest with a trap: that is the program's normal end.
                if (code != 0) failure = $"exited with code {code}";
            }
        }
        catch (Exception e) when (e is WasmtimeException or OperationCanceledException or IOException)
        {
            if (!http.RequestAborted.IsCancellationRequested && e is not BadHttpRequestException)
                Telemetry.TriggerTelemetry.GuestFailed(_options.ComponentId, e, timedOut: cancellation.IsCancellationRequested);
            failure = cancellation.IsCancellationRequested
                ? (http.RequestAborted.IsCancellationRequested ? "the client went away" : $"timed out after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms")
                : e is WasmTrapException ? "trapped: " + e.Message
                : e is BadHttpRequestException bad ? BodyFailed(e, bad.StatusCode)
                : e.Message;
        }
        finally
        {
            wasi?.Dispose();
            (wasi?.Stdin as IDisposable)?.Dispose();
        }
        // The module saw a read error on stdin: whatever it made of it, its output is not the answer to the request.
        if (body?.Failure is { } unread && !cancellation.IsCancellationRequested)
            failure = BodyFailed(unread, RequestBody.ClientErrorStatus(unread) ?? StatusCodes.Status500InternalServerError);

        await WagiCompletion.FinishAsync(http, writer, failure, _options.ComponentId, request.Describe(), _logger, failureStatus).ConfigureAwait(false);

        string BodyFailed(Exception e, int status)
        {
            failureStatus = status;
            return "the request body could not be read: " + e.Message;
        }
    }

    /// <summary>
    /// stdin and CONTENT_LENGTH. With a Content-Length the body streams from Kestrel as the guest reads it;
    /// without one (chunked, HTTP/2 without the header) it is read first, because CONTENT_LENGTH must be known
    /// before the guest starts (Spin always reads the whole body first).
    /// </summary>
    private static async Task<(IWasiInput Stdin, long Length)> PrepareStdinAsync(HttpContext http, WagiResponseWriter writer, CancellationToken cancellationToken)
    {
        var request = http.Request;
        if (request.ContentLength is { } length)
            return (new BodyStdin(request.BodyReader, writer), length);
        if (http.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
            return (MemoryWasiInput.Empty, 0);
        var whole = await RequestBody.ReadAllAsync(request, cancellationToken).ConfigureAwait(false);
        return (new MemoryWasiInput(whole), whole.Length);
    }

    /// <summary>
    /// stdin streamed from Kestrel that remembers a failed read (the client's body broke off or was malformed):
    /// the module gets an I/O error, its output from then on is dropped, and the request fails instead of being
    /// answered from a truncated body.
    /// </summary>
    private sealed class BodyStdin(System.IO.Pipelines.PipeReader reader, WagiResponseWriter writer) : IWasiInput, IDisposable
    {
        private readonly PipeReaderWasiInput _input = new(reader);

        public Exception? Failure { get; private set; }

        public int TryRead(Span<byte> destination)
        {
            try
            {
                return _input.TryRead(destination);
            }
            catch (Exception e)
            {
                Failed(e);
                throw;
            }
        }

        public async ValueTask WaitAsync(CancellationToken cancellationToken)
        {
            try
            {
                await _input.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Failed(e);
                throw;
            }
        }

        public void Dispose() => _input.Dispose();

        private void Failed(Exception e)
        {
            Failure ??= e;
            writer.Discard();
        }
    }

    /// <summary>Releases the pre-linked module.</summary>
    public void Dispose()
    {
        _pre.Dispose();
        _linker.Dispose();
        _module.Dispose();
    }
}
