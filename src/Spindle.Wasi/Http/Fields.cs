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
    private static readonly HashSet<string> ForbiddenNames = new(StringComparer.Ordinal)
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
    public static bool IsForbidden(string name) => ForbiddenNames.Contains(name.ToLowerInvariant());

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
        var list = new List<KeyValuePair<string, byte[]>>();
        foreach (var (name, value) in entries)
        {
            var lower = name.ToLowerInvariant();
            if (IsValidName(name) && IsValidValue(value) && !ForbiddenNames.Contains(lower))
                list.Add(new(lower, value));
        }
        return new Fields(list, immutable);
    }

    /// <summary>A view of the same entries that cannot be changed through it (for <c>headers()</c> children).</summary>
    public Fields ImmutableView() => new(_entries, immutable: true);

    /// <summary>A mutable copy (<c>clone</c>).</summary>
    public Fields Clone() => new([.. _entries], immutable: false);

    /// <summary>All values of <paramref name="name"/> (none when the name is invalid).</summary>
    public byte[][] Get(string name)
    {
        var lower = name.ToLowerInvariant();
        return _entries.Where(e => e.Key == lower).Select(e => e.Value).ToArray();
    }

    /// <summary>True if <paramref name="name"/> has at least one value.</summary>
    public bool Has(string name)
    {
        var lower = name.ToLowerInvariant();
        return _entries.Exists(e => e.Key == lower);
    }

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
