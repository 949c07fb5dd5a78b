namespace Spindle.Spin.KeyValue;

/// <summary>
/// One key-value store as a backend serves it: keys are strings, values bytes, both kept exactly. Every failure
/// of the backend (I/O, a server gone) is a <see cref="KeyValueException"/>, which guests see as <c>other(message)</c>.
/// </summary>
public interface IKeyValueStore
{
    /// <summary>The value of <paramref name="key"/>, or null when there is none.</summary>
    ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/>, replacing any value.</summary>
    ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);

    /// <summary>Deletes <paramref name="key"/> (nothing happens when there is none).</summary>
    ValueTask DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Whether <paramref name="key"/> has a value.</summary>
    ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Every key of the store, in no particular order.</summary>
    ValueTask<IReadOnlyList<string>> GetKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds <paramref name="delta"/> to the counter at <paramref name="key"/> (0 when absent) atomically and returns
    /// the new value. The counter's encoding is the backend's, as in Spin: 8 bytes little-endian in SQLite, decimal
    /// text in Redis (<c>INCRBY</c>).
    /// </summary>
    ValueTask<long> IncrementAsync(string key, long delta, CancellationToken cancellationToken = default);

    /// <summary>The values of <paramref name="keys"/>, in the same order (null for a key without value).</summary>
    ValueTask<IReadOnlyList<byte[]?>> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Sets every pair (not atomically as a whole).</summary>
    ValueTask SetManyAsync(IReadOnlyList<KeyValuePair<string, byte[]>> pairs, CancellationToken cancellationToken = default);

    /// <summary>Deletes every key.</summary>
    ValueTask DeleteManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default);

    /// <summary>
    /// Compare-and-swap: sets <paramref name="key"/> to <paramref name="value"/> only if its value is still
    /// <paramref name="expected"/> (<see cref="SwapExpectation"/>); true when it did.
    /// </summary>
    ValueTask<bool> SwapAsync(string key, SwapExpectation expected, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);
}

/// <summary>What a compare-and-swap requires of the current value.</summary>
/// <param name="WasRead">Whether the guest read the value first (<c>cas.current</c>). Without a read, Spin swaps unconditionally.</param>
/// <param name="Value">The value read (null: the key had none, so the swap requires it still has none).</param>
public readonly record struct SwapExpectation(bool WasRead, byte[]? Value)
{
    /// <summary>No read was made: the swap always happens (Spin's behaviour).</summary>
    public static SwapExpectation Unconditional => default;
}

/// <summary>A backend failed; the message is what the guest gets as <c>other(message)</c>.</summary>
public sealed class KeyValueException(string message, Exception? inner = null) : Exception(message, inner);
