using Spindle.Components.Types;

namespace Spindle.Components.Host;

/// <summary>A synchronous host function: takes lifted arguments, returns the lifted result (null for none).</summary>
public delegate object? HostFunc(HostCallContext context, object?[] args);

/// <summary>A host function that may wait (a pollable, a body read, an outbound response). Never blocks a thread.</summary>
public delegate ValueTask<object?> AsyncHostFunc(HostCallContext context, object?[] args);

/// <summary>A host resource type declared by a <see cref="HostInterface"/>.</summary>
/// <remarks>
/// Guests hold handles to host objects of this type. When the guest drops its last owning handle, or when the
/// store ends with the handle still live, the object is disposed if it implements <see cref="IDisposable"/>.
/// </remarks>
public sealed class HostResourceType(HostInterface owner, string name) : ResourceType(name)
{
    /// <summary>The interface that exports this resource.</summary>
    public HostInterface Owner { get; } = owner;

    /// <inheritdoc />
    public override string ToString() => $"{Owner.Name}.{Name}";
}

/// <summary>One host function of an interface.</summary>
/// <remarks>
/// <c>BorrowsBytes</c> (synchronous functions only): <c>list&lt;u8&gt;</c> arguments arrive as a
/// <see cref="System.Buffers.MemoryManager{T}"/> over guest memory, valid until the function returns (no copy);
/// the function must not keep them.
/// </remarks>
public sealed record HostFunction(string Name, FuncType Type, HostFunc? Sync, AsyncHostFunc? Async, bool BorrowsBytes = false);

/// <summary>
/// An interface the host provides to components (for example <c>wasi:io/streams@0.2.6</c>), declared once in C#.
/// At load, each function a component imports is checked against the type declared here.
/// </summary>
public sealed class HostInterface(string name, string version)
{
    private readonly Dictionary<string, HostFunction> _functions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ResourceType> _resources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ValType> _types = new(StringComparer.Ordinal);

    /// <summary>Interface name without version, such as <c>wasi:io/streams</c>.</summary>
    public string Name { get; } = name;

    /// <summary>Semantic version implemented (imports of the same major.minor, any patch, resolve to it); "" for an unversioned interface.</summary>
    public string Version { get; } = version;

    /// <summary>Functions by name (<c>[method]fields.get</c>, <c>[constructor]fields</c>, <c>[static]fields.from-list</c>, <c>get-stdout</c>).</summary>
    public IReadOnlyDictionary<string, HostFunction> Functions => _functions;

    /// <summary>Resource types exported by this interface, by name (including ones re-exported from another interface through <c>use</c>).</summary>
    public IReadOnlyDictionary<string, ResourceType> Resources => _resources;

    /// <summary>Named non-resource types exported by this interface (used to check type imports).</summary>
    public IReadOnlyDictionary<string, ValType> Types => _types;

    /// <summary>Declares a resource type owned by this interface.</summary>
    public HostResourceType DefineResource(string name)
    {
        var r = new HostResourceType(this, name);
        _resources.Add(name, r);
        return r;
    }

    /// <summary>Re-exports a resource of another interface (WIT <c>use</c>), such as <c>input-stream</c> in <c>wasi:http/types</c>.</summary>
    public void UseResource(string name, ResourceType resource) => _resources.Add(name, resource);

    /// <summary>Declares a named non-resource type (variant, record, enum, flags...).</summary>
    public void DefineType(string name, ValType type) => _types.Add(name, type);

    /// <summary>Declares a function whose implementation returns at once (its type may be a WIT <c>async func</c>, <see cref="T.AsyncFunc"/>).</summary>
    /// <param name="name">The function's name in the interface.</param>
    /// <param name="type">Its WIT type.</param>
    /// <param name="impl">The implementation.</param>
    /// <param name="borrowsBytes">See <see cref="HostFunction.BorrowsBytes"/>: the implementation uses its <c>list&lt;u8&gt;</c> arguments before returning and keeps nothing of them.</param>
    public void DefineFunc(string name, FuncType type, HostFunc impl, bool borrowsBytes = false) =>
        _functions.Add(name, new(name, type, impl, null, borrowsBytes));

    /// <summary>
    /// Declares a function whose implementation may wait (the guest's fiber is suspended meanwhile, no thread is
    /// held). Its type is a plain <c>func</c>, or a WIT <c>async func</c> (<see cref="T.AsyncFunc"/>) a guest may
    /// also call with <c>canon lower async</c>: the call then completes before it returns (status RETURNED).
    /// </summary>
    public void DefineAsyncFunc(string name, FuncType type, AsyncHostFunc impl) => _functions.Add(name, new(name, type, null, impl));

    /// <inheritdoc />
    public override string ToString() => Version.Length == 0 ? Name : $"{Name}@{Version}";
}

/// <summary>What a host function sees of the call: the per-store state given at instantiation.</summary>
public sealed class HostCallContext(object? storeData, CancellationToken cancellation)
{
    /// <summary>The object passed as store data when the component was instantiated (for example the request's WASI context).</summary>
    public object? StoreData { get; } = storeData;

    /// <summary>Cancelled when the store is being torn down (timeout, client gone).</summary>
    public CancellationToken Cancellation { get; } = cancellation;
}
