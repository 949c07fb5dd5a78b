using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors;

/// <summary>
/// An executor whose requests take core instances (and fiber stacks) from a <see cref="WasmEngine"/>'s pool.
/// The HTTP trigger admits such requests only while the engine has room for them, so an exhausted pool
/// answers 503 instead of failing inside Wasmtime.
/// </summary>
public interface IPooledExecutor : IRequestExecutor
{
    /// <summary>The engine whose pool the requests draw from.</summary>
    WasmEngine Engine { get; }

    /// <summary>Core instances one request keeps alive at once (a JS component: 4; a Wagi module: 1). At least 1.</summary>
    int CoreInstancesPerRequest { get; }
}
