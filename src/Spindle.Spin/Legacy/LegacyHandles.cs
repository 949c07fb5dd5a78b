namespace Spindle.Spin.Legacy;

/// <summary>
/// The handles Spin's first-generation interfaces give out as plain <c>u32</c> numbers (a key-value store, a SQLite
/// connection), one table per request: a number names an object only in the request that opened it, and a number
/// the guest made up is refused. Disposes what is still open at the end of the request.
/// </summary>
public sealed class LegacyHandles : IDisposable
{
    /// <summary>Most handles open at once, as Spin's tables allow.</summary>
    public const int Capacity = 256;

    private readonly Dictionary<uint, object> _open = [];
    private uint _next = 1;

    /// <summary>Stores <paramref name="value"/> and returns its number, or null when the table is full.</summary>
    public uint? Add(object value)
    {
        if (_open.Count >= Capacity) return null;
        while (_open.ContainsKey(_next) || _next == 0) _next++;
        _open[_next] = value;
        return _next++;
    }

    /// <summary>The object of type <typeparamref name="TValue"/> under <paramref name="handle"/>, or null.</summary>
    public TValue? Get<TValue>(uint handle) where TValue : class => _open.GetValueOrDefault(handle) as TValue;

    /// <summary>Closes <paramref name="handle"/> (unknown numbers are ignored, as Spin ignores them).</summary>
    public void Remove(uint handle)
    {
        if (_open.Remove(handle, out var value)) (value as IDisposable)?.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var value in _open.Values) (value as IDisposable)?.Dispose();
        _open.Clear();
    }
}

/// <summary>Store data that holds the first-generation handles of the request.</summary>
public interface ILegacyHandlesContext
{
    /// <summary>The request's handle table.</summary>
    LegacyHandles LegacyHandles { get; }
}
