namespace Spindle.Components.Values;

// How lifted component values are carried in C# (host functions receive and return these as object?):
//   bool → bool; s8..u64 → sbyte, byte, short, ushort, int, uint, long, ulong; f32 → float; f64 → double;
//   char → System.Text.Rune; string → string;
//   list<u8> → byte[] (ReadOnlyMemory<byte> is also accepted when lowering); other lists → object?[];
//   record, tuple → object?[] (fields in order); variant → VariantValue; enum → int (case index);
//   option → null for none, Some for some; result → ResultValue; flags → uint bit set;
//   own<R>/borrow<R> of a host resource → the host object itself;
//   stream<T>, future<T> returned by the host → HostStream, HostFuture (the guest gets their readable ends).

/// <summary>The <c>some</c> case of an option (none is <c>null</c>), so nested options stay unambiguous.</summary>
public sealed class Some(object? value)
{
    /// <summary>The payload.</summary>
    public object? Value { get; } = value;

    /// <inheritdoc />
    public override string ToString() => $"some({Value})";
}

/// <summary>A variant value: the case index and its payload (null for a case without payload).</summary>
public sealed class VariantValue(int caseIndex, object? payload = null)
{
    /// <summary>Index of the case in the variant type.</summary>
    public int Case { get; } = caseIndex;

    /// <summary>The payload, or null.</summary>
    public object? Payload { get; } = payload;

    /// <inheritdoc />
    public override string ToString() => $"case{Case}({Payload})";
}

/// <summary>A result value.</summary>
public sealed class ResultValue
{
    private ResultValue(bool isOk, object? value) { IsOk = isOk; Value = value; }

    /// <summary>True for ok.</summary>
    public bool IsOk { get; }

    /// <summary>The ok or error payload (null where the type has none).</summary>
    public object? Value { get; }

    /// <summary>An ok result.</summary>
    public static ResultValue Ok(object? value = null) => value is null ? OkEmpty : new(true, value);

    /// <summary>An error result.</summary>
    public static ResultValue Err(object? value = null) => value is null ? ErrEmpty : new(false, value);

    private static readonly ResultValue OkEmpty = new(true, null);
    private static readonly ResultValue ErrEmpty = new(false, null);

    /// <inheritdoc />
    public override string ToString() => IsOk ? $"ok({Value})" : $"err({Value})";
}

/// <summary>
/// A <c>stream&lt;T&gt;</c> the host returns to a guest, with every element known up front (values as documented
/// above). The guest reads it with <c>stream.read</c>: each read copies up to the number of elements asked for
/// (COMPLETED); once all are read, the host's writable end is done and the next read reports DROPPED.
/// </summary>
public sealed class HostStream(IReadOnlyList<object?> elements)
{
    /// <summary>The elements in order.</summary>
    public IReadOnlyList<object?> Elements { get; } = elements ?? throw new ArgumentNullException(nameof(elements));

    /// <summary>How many elements the guest has read.</summary>
    public int Position { get; internal set; }
}

/// <summary>A <c>future&lt;T&gt;</c> the host returns to a guest, already resolved to <see cref="Value"/>.</summary>
public sealed class HostFuture(object? value)
{
    /// <summary>The value the guest reads with <c>future.read</c> (null for a future of no value).</summary>
    public object? Value { get; } = value;
}
