using Spindle.Components.Host;

namespace Spindle.Wasi.Tests;

/// <summary>Calls the declared host functions exactly as the component runtime does: lifted C# values in and out.</summary>
internal static class HostCalls
{
    public static HostFunction Func(string iface, string name) =>
        WasiHost.Shared[iface].Functions.TryGetValue(name, out var f) ? f : throw new KeyNotFoundException($"{iface} has no function {name}");

    public static object? Call(string iface, string name, object? storeData, params object?[] args)
    {
        var f = Func(iface, name);
        Assert.NotNull(f.Sync);
        return f.Sync!(new HostCallContext(storeData, CancellationToken.None), args);
    }

    public static ValueTask<object?> CallAsync(string iface, string name, object? storeData, CancellationToken cancellation, params object?[] args)
    {
        var f = Func(iface, name);
        Assert.NotNull(f.Async);
        return f.Async!(new HostCallContext(storeData, cancellation), args);
    }
}
