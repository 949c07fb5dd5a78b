using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Preview2.Interfaces;

/// <summary><c>wasi:io/error</c>, <c>wasi:io/poll</c> and <c>wasi:io/streams</c>.</summary>
public sealed class IoInterfaces
{
    // The most bytes one read hands the guest: bounds a single lowering into guest memory.
    private const int MaxRead = 1024 * 1024;

    /// <summary><c>wasi:io/error</c>.</summary>
    public HostInterface Error { get; }

    /// <summary><c>wasi:io/poll</c>.</summary>
    public HostInterface Poll { get; }

    /// <summary><c>wasi:io/streams</c>.</summary>
    public HostInterface Streams { get; }

    /// <summary>The <c>error</c> resource (host objects: <see cref="IoError"/>).</summary>
    public HostResourceType ErrorType { get; }

    /// <summary>The <c>pollable</c> resource (host objects: <see cref="Pollable"/>).</summary>
    public HostResourceType PollableType { get; }

    /// <summary>The <c>input-stream</c> resource (host objects: <see cref="InputStream"/>).</summary>
    public HostResourceType InputStreamType { get; }

    /// <summary>The <c>output-stream</c> resource (host objects: <see cref="OutputStream"/>).</summary>
    public HostResourceType OutputStreamType { get; }

    internal IoInterfaces(string version)
    {
        Error = new HostInterface("wasi:io/error", version);
        ErrorType = Error.DefineResource("error");
        Error.DefineFunc("[method]error.to-debug-string", T.Func([("self", T.Borrow(ErrorType))], T.String),
            (_, a) => Args.Self<IoError>(a).Message);

        Poll = new HostInterface("wasi:io/poll", version);
        PollableType = Poll.DefineResource("pollable");
        Poll.DefineFunc("[method]pollable.ready", T.Func([("self", T.Borrow(PollableType))], T.Bool),
            (_, a) => Args.Self<Pollable>(a).IsReady);
        Poll.DefineAsyncFunc("[method]pollable.block", T.Func([("self", T.Borrow(PollableType))]), async (c, a) =>
        {
            await Args.Self<Pollable>(a).WaitAsync(c.Cancellation).ConfigureAwait(false);
            return null;
        });
        Poll.DefineAsyncFunc("poll", T.Func([("in", T.List(T.Borrow(PollableType)))], T.List(T.U32)), async (c, a) =>
        {
            var items = Args.List(a[0]);
            var pollables = new Pollable[items.Length];
            for (var i = 0; i < items.Length; i++)
                pollables[i] = items[i] as Pollable ?? throw new InvalidOperationException($"poll: element {i} is not a pollable");
            var ready = await Pollable.PollAsync(pollables, c.Cancellation).ConfigureAwait(false);
            return ready.Select(r => (object?)r).ToArray();
        });

        Streams = new HostInterface("wasi:io/streams", version);
        Streams.UseResource("error", ErrorType);
        Streams.UseResource("pollable", PollableType);
        var streamError = T.Variant(("last-operation-failed", T.Own(ErrorType)), ("closed", null));
        Streams.DefineType("stream-error", streamError);
        InputStreamType = Streams.DefineResource("input-stream");
        OutputStreamType = Streams.DefineResource("output-stream");
        DefineInputStream(streamError);
        DefineOutputStream(streamError);
    }

    private void DefineInputStream(VariantType streamError)
    {
        var self = ("self", (ValType)T.Borrow(InputStreamType));
        var len = ("len", (ValType)T.U64);
        Streams.DefineFunc("[method]input-stream.read", T.Func([self, len], T.Result(T.List(T.U8), streamError)),
            (_, a) => ReadResult(Args.Self<InputStream>(a).Read(Args.Length(Args.U64(a, 1), MaxRead))));
        Streams.DefineAsyncFunc("[method]input-stream.blocking-read", T.Func([self, len], T.Result(T.List(T.U8), streamError)), async (c, a) =>
            ReadResult(await Args.Self<InputStream>(a).BlockingReadAsync(Args.Length(Args.U64(a, 1), MaxRead), c.Cancellation).ConfigureAwait(false)));
        Streams.DefineFunc("[method]input-stream.skip", T.Func([self, len], T.Result(T.U64, streamError)),
            (_, a) => SkipResult(Args.Self<InputStream>(a).Read(Args.Length(Args.U64(a, 1), MaxRead))));
        Streams.DefineAsyncFunc("[method]input-stream.blocking-skip", T.Func([self, len], T.Result(T.U64, streamError)), async (c, a) =>
            SkipResult(await Args.Self<InputStream>(a).BlockingReadAsync(Args.Length(Args.U64(a, 1), MaxRead), c.Cancellation).ConfigureAwait(false)));
        Streams.DefineFunc("[method]input-stream.subscribe", T.Func([self], T.Own(PollableType)),
            (_, a) => Args.Self<InputStream>(a).Subscribe());
    }

    private void DefineOutputStream(VariantType streamError)
    {
        var self = ("self", (ValType)T.Borrow(OutputStreamType));
        var unit = T.Result(null, streamError);
        Streams.DefineFunc("[method]output-stream.check-write", T.Func([self], T.Result(T.U64, streamError)), (_, a) =>
        {
            var (permit, error) = Args.Self<OutputStream>(a).CheckWrite();
            return error is null ? ResultValue.Ok(permit) : error.ToResult();
        });
        // Write copies the bytes into the stream before returning, so they are read straight from guest memory.
        Streams.DefineFunc("[method]output-stream.write", T.Func([self, ("contents", T.List(T.U8))], unit),
            (_, a) => Unit(Args.Self<OutputStream>(a).Write(Args.Bytes(a[1]).Span)), borrowsBytes: true);
        Streams.DefineAsyncFunc("[method]output-stream.blocking-write-and-flush", T.Func([self, ("contents", T.List(T.U8))], unit), async (c, a) =>
            Unit(await Args.Self<OutputStream>(a).BlockingWriteAndFlushAsync(Args.Bytes(a[1]), c.Cancellation).ConfigureAwait(false)));
        Streams.DefineFunc("[method]output-stream.flush", T.Func([self], unit),
            (_, a) => Unit(Args.Self<OutputStream>(a).Flush()));
        Streams.DefineAsyncFunc("[method]output-stream.blocking-flush", T.Func([self], unit), async (c, a) =>
            Unit(await Args.Self<OutputStream>(a).BlockingFlushAsync(c.Cancellation).ConfigureAwait(false)));
        Streams.DefineFunc("[method]output-stream.subscribe", T.Func([self], T.Own(PollableType)),
            (_, a) => Args.Self<OutputStream>(a).Subscribe());
        Streams.DefineFunc("[method]output-stream.write-zeroes", T.Func([self, ("len", T.U64)], unit),
            (_, a) => Unit(Args.Self<OutputStream>(a).Write(new byte[Args.Length(Args.U64(a, 1), MaxRead)])));
        Streams.DefineAsyncFunc("[method]output-stream.blocking-write-zeroes-and-flush", T.Func([self, ("len", T.U64)], unit), async (c, a) =>
            Unit(await Args.Self<OutputStream>(a).BlockingWriteAndFlushAsync(new byte[Args.Length(Args.U64(a, 1), MaxRead)], c.Cancellation).ConfigureAwait(false)));
        var src = ("src", (ValType)T.Borrow(InputStreamType));
        Streams.DefineFunc("[method]output-stream.splice", T.Func([self, src, ("len", T.U64)], T.Result(T.U64, streamError)),
            (_, a) => Splice(Args.Self<OutputStream>(a), Args.At<InputStream>(a, 1), Args.U64(a, 2)));
        Streams.DefineAsyncFunc("[method]output-stream.blocking-splice", T.Func([self, src, ("len", T.U64)], T.Result(T.U64, streamError)), async (c, a) =>
        {
            var output = Args.Self<OutputStream>(a);
            var input = Args.At<InputStream>(a, 1);
            await input.WaitReadableAsync(c.Cancellation).ConfigureAwait(false);
            await output.WaitWritableAsync(c.Cancellation).ConfigureAwait(false);
            return Splice(output, input, Args.U64(a, 2));
        });
    }

    /// <summary>Moves what is available now from <paramref name="input"/> to <paramref name="output"/>, within the write budget.</summary>
    internal static ResultValue Splice(OutputStream output, InputStream input, ulong len)
    {
        var (permit, error) = output.CheckWrite();
        if (error is not null)
            return error.ToResult();
        var n = Args.Length(Math.Min(len, permit), MaxRead);
        var read = input.Read(n);
        if (read.Error is not null)
            return read.Error.ToResult();
        if (read.Data.Length > 0 && output.Write(read.Data) is { } writeError)
            return writeError.ToResult();
        return ResultValue.Ok((ulong)read.Data.Length);
    }

    private static ResultValue ReadResult(ReadOutcome outcome) =>
        outcome.Error is null ? ResultValue.Ok(outcome.Data) : outcome.Error.ToResult();

    private static ResultValue SkipResult(ReadOutcome outcome) =>
        outcome.Error is null ? ResultValue.Ok((ulong)outcome.Data.Length) : outcome.Error.ToResult();

    private static ResultValue Unit(StreamError? error) => error is null ? ResultValue.Ok() : error.ToResult();
}
