using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Spindle.Wasi.Preview1;

namespace Spindle.Trigger.Http.Executors.Wagi;

/// <summary>Why a Wagi module's output could not become a response (sent once the module has ended).</summary>
/// <param name="Status">The status to answer.</param>
/// <param name="Body">The body (Spin sends one only for missing headers).</param>
/// <param name="Reason">What to log.</param>
public sealed record WagiOutputProblem(int Status, string Body, string Reason);

/// <summary>
/// The guest's stdout, parsed as CGI output (spec §4.3) and streamed: header bytes are collected until the first
/// empty line (<c>\r</c> ignored), then the status and headers are applied and the response starts; every later
/// byte goes straight to Kestrel's body writer, flushed before the guest's write returns (so client backpressure
/// suspends the guest, and memory stays bounded).
/// </summary>
public sealed class WagiResponseWriter : IWasiOutput
{
    /// <summary>Body sent when none of content-type, status or location is given (Spin's text).</summary>
    public const string InsufficientHeaders = "Exactly one of 'location' or 'content-type' must be specified";

    private const int MaxHeaderBytes = 64 * 1024;
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
        { "connection", "transfer-encoding", "keep-alive", "upgrade", "proxy-connection" };

    private readonly HttpResponse _response;
    private readonly ArrayBufferWriter<byte> _head = new();
    private bool _lineWasEmpty = true; // at the start of a line with only '\r' seen so far
    private bool _afterFirstNewline;
    private bool _discard;

    /// <summary>Creates a writer for one response.</summary>
    public WagiResponseWriter(HttpResponse response) => _response = response;

    /// <summary>True once the status and headers were handed to Kestrel: failures can then only abort.</summary>
    public bool HeadersSent { get; private set; }

    /// <summary>Whether the guest wrote anything at all.</summary>
    public bool AnyOutput { get; private set; }

    /// <summary>Set when the headers were complete but unusable.</summary>
    public WagiOutputProblem? Problem { get; private set; }

    /// <inheritdoc />
    public bool FlushPending { get; private set; }

    /// <summary>
    /// Drops all the guest writes from now on: its request body could not be read, so its output is no answer
    /// (a response not started yet never starts; one already started gets nothing more).
    /// </summary>
    public void Discard() => _discard = true;

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        AnyOutput = true;
        if (_discard) return;
        if (HeadersSent)
        {
            WriteBody(data);
            return;
        }
        var end = FindHeaderEnd(data);
        if (end < 0)
        {
            if (_head.WrittenCount + data.Length > MaxHeaderBytes)
            {
                Problem = new WagiOutputProblem(500, "", $"no blank line ending the headers within {MaxHeaderBytes} bytes of output");
                _discard = true;
                return;
            }
            _head.Write(data);
            return;
        }
        _head.Write(data[..(end + 1)]);
        Problem = ApplyHeaders(Encoding.UTF8.GetString(_head.WrittenSpan));
        if (Problem != null)
        {
            _discard = true;
            return;
        }
        HeadersSent = true;
        FlushPending = true; // start the response now, even before any body byte
        WriteBody(data[(end + 1)..]);
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        FlushPending = false;
        FlushResult result;
        try
        {
            result = await _response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw new IOException("the response body could not be written: " + e.Message, e);
        }
        if (result.IsCompleted || result.IsCanceled)
            throw new IOException("the client is gone");
    }

    private void WriteBody(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        try
        {
            _response.BodyWriter.Write(data);
        }
        catch (InvalidOperationException e)
        {
            // E.g. more bytes than a content-length header the guest declared.
            throw new IOException("the response body could not be written: " + e.Message, e);
        }
        FlushPending = true;
    }

    /// <summary>Index in <paramref name="data"/> of the '\n' that ends the headers, or -1 (state carries across writes).</summary>
    private int FindHeaderEnd(ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length; i++)
        {
            switch (data[i])
            {
                case (byte)'\r':
                    break;
                case (byte)'\n':
                    if (_lineWasEmpty && _afterFirstNewline) return i;
                    _afterFirstNewline = true;
                    _lineWasEmpty = true;
                    break;
                default:
                    _lineWasEmpty = false;
                    break;
            }
        }
        return -1;
    }

    /// <summary>Parses the header block and applies it to the response; returns the problem when unusable.</summary>
    private WagiOutputProblem? ApplyHeaders(string head)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase); // duplicate names: last wins
        var order = new List<string>();
        foreach (var rawLine in head.Replace("\r", "", StringComparison.Ordinal).Split('\n'))
        {
            var colon = rawLine.IndexOf(':');
            if (colon < 0) continue;
            var name = rawLine[..colon].Trim();
            var value = rawLine[(colon + 1)..].Trim();
            if (!headers.ContainsKey(name)) order.Add(name);
            headers[name] = value;
        }

        int? status = null;
        if (headers.TryGetValue("status", out var statusText))
        {
            var code = statusText.Split(' ')[0];
            if (code.Length != 3 || !int.TryParse(code, System.Globalization.NumberStyles.None, null, out var parsed) || parsed < 100)
                return new WagiOutputProblem(502, "", $"invalid status header '{statusText}'");
            status = parsed;
        }
        headers.TryGetValue("content-type", out var contentType);
        headers.TryGetValue("location", out var location);
        if (status is null && contentType is null && location is null)
            return new WagiOutputProblem(500, InsufficientHeaders, "the output has none of content-type, location or status");

        foreach (var name in order)
        {
            if (name.Equals("status", StringComparison.OrdinalIgnoreCase)) continue;
            var value = headers[name];
            if (!IsToken(name) || HopByHop.Contains(name)) continue; // invalid names are ignored, as Spin does
            if (!IsValidValue(value))
                return new WagiOutputProblem(500, "", $"invalid value for header '{name}'");
        }

        _response.StatusCode = status ?? (location != null ? 302 : 200);
        foreach (var name in order)
        {
            if (name.Equals("status", StringComparison.OrdinalIgnoreCase) || !IsToken(name) || HopByHop.Contains(name)) continue;
            _response.Headers[name] = headers[name];
        }
        return null;
    }

    private static bool IsToken(string name)
    {
        if (name.Length == 0) return false;
        foreach (var c in name)
            if (c > 0x7e || c <= 0x20 || "\"(),/:;<=>?@[\\]{}".Contains(c)) return false;
        return true;
    }

    private static bool IsValidValue(string value)
    {
        foreach (var c in value)
            if ((c < 0x20 && c != '\t') || c >= 0x7f) return false; // Kestrel only sends ASCII values
        return true;
    }
}
