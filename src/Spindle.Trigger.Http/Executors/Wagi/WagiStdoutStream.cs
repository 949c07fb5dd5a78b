using System.IO.Pipelines;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Trigger.Http.Executors.Wagi;

/// <summary>
/// A Wagi component's <c>wasi:cli/stdout</c>: a WASI 0.2 output stream over the same CGI parser and response
/// writer the core-module path uses (<see cref="WagiResponseWriter"/>). A write goes to the writer at once; when
/// the writer wants a flush (response started, body bytes written) the flush runs in the background under the
/// back-pressure rules of <see cref="BackpressuredOutputStream"/>.
/// </summary>
/// <remarks>
/// One instance serves the whole request: every <c>get-stdout</c> returns it, and the guest dropping a handle
/// does not end it (<see cref="Dispose"/> does nothing); the executor owns it.
/// </remarks>
public sealed class WagiStdoutStream(WagiResponseWriter writer, CancellationToken cancellation) : BackpressuredOutputStream(Budget)
{
    // What one check-write grants: the guest writes at most this much before the next flush is awaited.
    private const int Budget = 64 * 1024;

    /// <inheritdoc />
    protected override ValueTask<FlushResult> WriteCore(ReadOnlySpan<byte> data)
    {
        writer.Write(data);
        if (!writer.FlushPending)
            return default;
        var flush = writer.FlushAsync(cancellation);
        return flush.IsCompletedSuccessfully ? default : Awaited(flush);

        static async ValueTask<FlushResult> Awaited(ValueTask flush)
        {
            await flush.ConfigureAwait(false);
            return default;
        }
    }

    /// <summary>Waits for a flush still in progress when the guest ends (its outcome is then in <see cref="BackpressuredOutputStream.Failure"/>).</summary>
    public async Task DrainAsync()
    {
        if (PendingFlush is { } pending)
            await Task.WhenAny(pending).ConfigureAwait(false);
        Observe();
    }

    /// <summary>Does nothing: the stream outlives the guest's handles (see remarks).</summary>
    public override void Dispose() => GC.SuppressFinalize(this);
}
