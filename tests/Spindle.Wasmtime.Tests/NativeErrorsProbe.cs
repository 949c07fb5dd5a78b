namespace Spindle.Wasmtime.Tests;

/// <summary>Reaches the internal message splitter (InternalsVisibleTo is not used: go through reflection).</summary>
internal static class NativeErrorsProbe
{
    public static (string, string?) Split(string full)
    {
        var type = typeof(WasmtimeException).Assembly.GetType("Spindle.Wasmtime.NativeErrors", throwOnError: true)!;
        var method = type.GetMethod("SplitBacktrace", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;
        return ((string, string?))method.Invoke(null, [full])!;
    }
}
