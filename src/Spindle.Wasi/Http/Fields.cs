namespace Spindle.Wasi.Http;

/// <summary>The <c>header-error</c> cases.</summary>
public enum HeaderError
{
    /// <summary>The name or a value is not valid HTTP syntax.</summary>
    InvalidSyntax = 0,
    /// <summary>The header may not be set by a guest (hop-by-hop or host-controlled).</summary>
    Forbidden = 1,
    /// <summary>The fields belong to a request or response and may no longer change.</summary>
    Immutable = 2,
}

/// <summary>
/// A <c>wasi:http/types.fields</c> resource: an ordered multi-map of lower-cased names to byte values.
/// <c>headers()</c> of a request or response returns an immutable view sharing the same entries.
/// </summary>
public sealed class Fields
{
    // The headers a guest may neither set nor see (the same list as wasmtime-wasi-http's defaults).
    private static readonly HashSet<string> ForbiddenNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
        "transfer-encoding", "upgrade", "host", "http2-settings",
    };

    private readonly List<KeyValuePair<string, byte[]>> _entries;

    /// <summary>Creates empty, mutable fields.</summary>
    public Fields() : this([], immutable: false) { }

    private Fields(List<KeyValuePair<string, byte[]>> entries, bool immutable)
    {
        _entries = entries;
        IsImmutable = immutable;
    }

    /// <summary>True when set/append/delete answer <see cref="HeaderError.Immutable"/>.</summary>
    public bool IsImmutable { get; }

    /// <summary>The entries in order (lower-case names).</summary>
    public IReadOnlyList<KeyValuePair<string, byte[]>> Entries => _entries;

    /// <summary>True if a guest may not set <paramref name="name"/> (case-insensitive).</summary>
    public static bool IsForbidden(string name) => ForbiddenNames.Contains(name);

    /// <summary>Builds fields from a guest list (<c>from-list</c>): every name and value is validated.</summary>
    public static Fields FromList(IEnumerable<KeyValuePair<string, byte[]>> entries, out HeaderError? error)
    {
        var fields = new Fields();
        foreach (var (name, value) in entries)
        {
            error = fields.Append(name, value);
            if (error is not null)
                return fields;
        }
        error = null;
        return fields;
    }

    /// <summary>Builds fields from trusted host data (request headers): forbidden names are dropped, invalid entries skipped.</summary>
    public static Fields FromHost(IEnumerable<KeyValuePair<string, byte[]>> entries, bool immutable)
    {
        var builder = new HostBuilder(entries.TryGetNonEnumeratedCount(out var n) ? n : 4);
        foreach (var (name, value) in entries)
            builder.Add(name, value);
        return builder.Build(immutable);
    }

    /// <summary>
    /// Builds fields from trusted host data one entry at a time, without an intermediate list: forbidden names are
    /// dropped, invalid entries skipped, names lower-cased (the same rules as <see cref="FromHost"/>).
    /// </summary>
    public readonly struct HostBuilder(int capacity)
    {
        private readonly List<KeyValuePair<string, byte[]>> _entries = new(capacity);

        /// <summary>Adds one value.</summary>
        public void Add(string name, byte[] value)
        {
            if (Keeps(name)) AddValue(name, value);
        }

        /// <summary>Adds one value given as text (encoded as UTF-8 only when the name is kept).</summary>
        public void Add(string name, string value)
        {
            if (Keeps(name)) AddValue(name, System.Text.Encoding.UTF8.GetBytes(value));
        }

        private static bool Keeps(string name) => IsValidName(name) && !ForbiddenNames.Contains(name);

        private void AddValue(string name, byte[] value)
        {
            if (IsValidValue(value)) _entries.Add(new(Lower(name), value));
        }

        /// <summary>The fields (call once).</summary>
        public Fields Build(bool immutable) => new(_entries, immutable);
    }

    // Kestrel names its known request headers in canonical case ("User-Agent"): their lower-case forms are
    // interned here so that every request does not lower-case them again.
    private static readonly Dictionary<string, string> KnownLower = new[]
    {
        "Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Access-Control-Request-Headers",
        "Access-Control-Request-Method", "Authorization", "Baggage", "Cache-Control", "Content-Encoding",
        "Content-Language", "Content-Length", "Content-Location", "Content-MD5", "Content-Range", "Content-Type",
        "Cookie", "Date", "Expect", "From", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range",
        "If-Unmodified-Since", "Max-Forwards", "Origin", "Pragma", "Range", "Referer", "Request-Id", "TE",
        "Traceparent", "Tracestate", "Upgrade-Insecure-Requests", "User-Agent", "Via", "Warning",
    }.ToDictionary(n => n, n => n.ToLowerInvariant(), StringComparer.Ordinal);

    private static string Lower(string name) => KnownLower.TryGetValue(name, out var lower) ? lower : name.ToLowerInvariant();

    /// <summary>A view of the same entries that cannot be changed through it (for <c>headers()</c> children).</summary>
    public Fields ImmutableView() => new(_entries, immutable: true);

    /// <summary>A mutable copy (<c>clone</c>).</summary>
    public Fields Clone() => new([.. _entries], immutable: false);

    /// <summary>All values of <paramref name="name"/> (none when the name is invalid).</summary>
    public byte[][] Get(string name)
    {
        // Guests ask for headers by name several times per request (a proxy reads its routing headers): no LINQ.
        var lower = LowerKey(name);
        var count = 0;
        foreach (var e in _entries)
            if (e.Key == lower) count++;
        if (count == 0)
            return [];
        var values = new byte[count][];
        count = 0;
        foreach (var e in _entries)
            if (e.Key == lower) values[count++] = e.Value;
        return values;
    }

    /// <summary>True if <paramref name="name"/> has at least one value.</summary>
    public bool Has(string name)
    {
        var lower = LowerKey(name);
        foreach (var e in _entries)
            if (e.Key == lower) return true;
        return false;
    }

    // Names guests look up are nearly always lower-case ASCII already: those are used as they are, without a copy.
    private static string LowerKey(string name) =>
        name.AsSpan().ContainsAnyExceptInRange('\0', '\x7f') || name.AsSpan().ContainsAnyInRange('A', 'Z') ? name.ToLowerInvariant() : name;

    /// <summary>Replaces all values of <paramref name="name"/>.</summary>
    public HeaderError? Set(string name, IReadOnlyList<byte[]> values)
    {
        if (CheckName(name) is { } error)
            return error;
        foreach (var v in values)
            if (!IsValidValue(v))
                return HeaderError.InvalidSyntax;
        if (IsImmutable)
            return HeaderError.Immutable;
        var lower = name.ToLowerInvariant();
        _entries.RemoveAll(e => e.Key == lower);
        foreach (var v in values)
            _entries.Add(new(lower, v));
        return null;
    }

    /// <summary>Removes all values of <paramref name="name"/>.</summary>
    public HeaderError? Delete(string name)
    {
        if (CheckName(name) is { } error)
            return error;
        if (IsImmutable)
            return HeaderError.Immutable;
        var lower = name.ToLowerInvariant();
        _entries.RemoveAll(e => e.Key == lower);
        return null;
    }

    /// <summary>Adds one value for <paramref name="name"/>.</summary>
    public HeaderError? Append(string name, byte[] value)
    {
        if (CheckName(name) is { } error)
            return error;
        if (!IsValidValue(value))
            return HeaderError.InvalidSyntax;
        if (IsImmutable)
            return HeaderError.Immutable;
        _entries.Add(new(name.ToLowerInvariant(), value));
        return null;
    }

    private static HeaderError? CheckName(string name)
    {
        if (!IsValidName(name))
            return HeaderError.InvalidSyntax;
        if (IsForbidden(name))
            return HeaderError.Forbidden;
        return null;
    }

    /// <summary>RFC 9110 token: one or more tchar.</summary>
    public static bool IsValidName(string name)
    {
        if (name.Length == 0)
            return false;
        foreach (var c in name)
            if (!IsTchar(c))
                return false;
        return true;
    }

    private static bool IsTchar(char c) =>
        c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9'
          or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    /// <summary>A field value: visible ASCII, space, tab and obs-text; no control characters (CR, LF, NUL, DEL).</summary>
    public static bool IsValidValue(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7f)
                return false;
        return true;
    }
}
