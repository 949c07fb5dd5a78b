namespace Spindle.Components.Types;

/// <summary>The primitive component-model value types.</summary>
public enum PrimitiveKind { Bool, S8, U8, S16, U16, S32, U32, S64, U64, F32, F64, Char, String }

/// <summary>
/// A component-model value type (the <c>valtype</c> of the binary format), after type indices are resolved.
/// Compare types structurally (Types/TypeEquality); instances are not interned.
/// </summary>
public abstract class ValType;

/// <summary>bool, integers, floats, char or string.</summary>
public sealed class PrimitiveType : ValType
{
    private PrimitiveType(PrimitiveKind kind) => Kind = kind;

    /// <summary>Which primitive.</summary>
    public PrimitiveKind Kind { get; }

    /// <summary>The shared instance for each kind.</summary>
    public static PrimitiveType Of(PrimitiveKind kind) => All[(int)kind];

    private static readonly PrimitiveType[] All = Enum.GetValues<PrimitiveKind>().Select(k => new PrimitiveType(k)).ToArray();

    /// <inheritdoc />
    public override string ToString() => Kind.ToString().ToLowerInvariant();
}

/// <summary><c>list&lt;T&gt;</c>.</summary>
public sealed class ListType(ValType element) : ValType
{
    /// <summary>The element type.</summary>
    public ValType Element { get; } = element;
}

/// <summary>A named field or case.</summary>
public readonly record struct Field(string Name, ValType Type);

/// <summary>A variant case; <see cref="Payload"/> is null for a case without payload.</summary>
public readonly record struct Case(string Name, ValType? Payload);

/// <summary><c>record { ... }</c>.</summary>
public sealed class RecordType(IReadOnlyList<Field> fields) : ValType
{
    /// <summary>Fields in declaration order.</summary>
    public IReadOnlyList<Field> Fields { get; } = fields;
}

/// <summary><c>tuple&lt;...&gt;</c>.</summary>
public sealed class TupleType(IReadOnlyList<ValType> elements) : ValType
{
    /// <summary>Element types in order.</summary>
    public IReadOnlyList<ValType> Elements { get; } = elements;
}

/// <summary><c>variant { ... }</c>.</summary>
public sealed class VariantType(IReadOnlyList<Case> cases) : ValType
{
    /// <summary>Cases in declaration order (the discriminant is the index).</summary>
    public IReadOnlyList<Case> Cases { get; } = cases;
}

/// <summary><c>enum { ... }</c>.</summary>
public sealed class EnumType(IReadOnlyList<string> names) : ValType
{
    /// <summary>Case names in declaration order.</summary>
    public IReadOnlyList<string> Names { get; } = names;
}

/// <summary><c>option&lt;T&gt;</c>.</summary>
public sealed class OptionType(ValType inner) : ValType
{
    /// <summary>The payload type of <c>some</c>.</summary>
    public ValType Inner { get; } = inner;
}

/// <summary><c>result&lt;T, E&gt;</c>; either side may be absent.</summary>
public sealed class ResultType(ValType? ok, ValType? err) : ValType
{
    /// <summary>The ok payload, or null.</summary>
    public ValType? Ok { get; } = ok;

    /// <summary>The error payload, or null.</summary>
    public ValType? Err { get; } = err;
}

/// <summary><c>flags { ... }</c> (at most 32 flags, carried as a <see cref="uint"/> bit set).</summary>
public sealed class FlagsType(IReadOnlyList<string> names) : ValType
{
    /// <summary>Flag names; bit i is <c>Names[i]</c>.</summary>
    public IReadOnlyList<string> Names { get; } = names;
}

/// <summary><c>own&lt;R&gt;</c>.</summary>
public sealed class OwnType(ResourceType resource) : ValType
{
    /// <summary>The resource type.</summary>
    public ResourceType Resource { get; } = resource;
}

/// <summary><c>borrow&lt;R&gt;</c>.</summary>
public sealed class BorrowType(ResourceType resource) : ValType
{
    /// <summary>The resource type.</summary>
    public ResourceType Resource { get; } = resource;
}

/// <summary>
/// <c>stream&lt;T&gt;</c> (component-model async): the guest holds the readable end of a stream the host writes.
/// The host value is a <see cref="Values.HostStream"/>.
/// </summary>
public sealed class StreamType(ValType? element) : ValType
{
    /// <summary>The element type, or null for a stream of unit values.</summary>
    public ValType? Element { get; } = element;
}

/// <summary>
/// <c>future&lt;T&gt;</c> (component-model async): the guest holds the readable end of a future the host writes.
/// The host value is a <see cref="Values.HostFuture"/>.
/// </summary>
public sealed class FutureType(ValType? payload) : ValType
{
    /// <summary>The value type, or null for a future of no value.</summary>
    public ValType? Payload { get; } = payload;
}

/// <summary>
/// A resource type. Identity is by reference: two imports of the same host resource resolve to the same object.
/// </summary>
public abstract class ResourceType(string name)
{
    /// <summary>The resource's name as exported by its interface (for messages).</summary>
    public string Name { get; } = name;

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// A component function type. WASI 0.2 functions have at most one result. <see cref="IsAsync"/> marks a WIT
/// <c>async func</c> (binary type 0x43): the callee may block, so a guest may call it with <c>canon lower async</c>.
/// </summary>
public sealed class FuncType(IReadOnlyList<Field> parameters, ValType? result, bool isAsync = false) : ValType
{
    /// <summary>True for an <c>async func</c>; part of the type (an async and a sync function never match).</summary>
    public bool IsAsync { get; } = isAsync;

    /// <summary>Named parameters in order.</summary>
    public IReadOnlyList<Field> Params { get; } = parameters;

    /// <summary>The single result, or null for none.</summary>
    public ValType? Result { get; } = result;
}
