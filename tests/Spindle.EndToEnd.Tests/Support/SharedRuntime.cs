using Spindle.Engine;
using Spindle.Trigger.Http.Executors;

[assembly: AssemblyFixture(typeof(Spindle.EndToEnd.Tests.Support.SharedRuntime))]

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>
/// One Wasm engine (and its executor factories) for the whole test run: every host a test starts shares it, so a
/// 14 MB JavaScript component compiled once is only deserialized from the artifact cache by later hosts.
/// </summary>
public sealed class SharedRuntime : IDisposable
{
    /// <summary>The engine and host interfaces behind every executor.</summary>
    public SpindleEngine Runtime { get; } = new();

    /// <summary>A fresh registry with the wasi:http and Wagi factories.</summary>
    public ExecutorFactoryRegistry Executors() => Runtime.CreateRegistry();

    /// <inheritdoc />
    public void Dispose() => Runtime.Dispose();
}
