namespace Spindle.Components.Types;

/// <summary>Short constructors for declaring host interface types in C#, close to WIT.</summary>
public static class T
{
    public static readonly PrimitiveType Bool = PrimitiveType.Of(PrimitiveKind.Bool);
    public static readonly PrimitiveType S8 = PrimitiveType.Of(PrimitiveKind.S8);
    public static readonly PrimitiveType U8 = PrimitiveType.Of(PrimitiveKind.U8);
    public static readonly PrimitiveType S16 = PrimitiveType.Of(PrimitiveKind.S16);
    public static readonly PrimitiveType U16 = PrimitiveType.Of(PrimitiveKind.U16);
    public static readonly PrimitiveType S32 = PrimitiveType.Of(PrimitiveKind.S32);
    public static readonly PrimitiveType U32 = PrimitiveType.Of(PrimitiveKind.U32);
    public static readonly PrimitiveType S64 = PrimitiveType.Of(PrimitiveKind.S64);
    public static readonly PrimitiveType U64 = PrimitiveType.Of(PrimitiveKind.U64);
    public static readonly PrimitiveType F32 = PrimitiveType.Of(PrimitiveKind.F32);
    public static readonly PrimitiveType F64 = PrimitiveType.Of(PrimitiveKind.F64);
    public static readonly PrimitiveType Char = PrimitiveType.Of(PrimitiveKind.Char);
    public static readonly PrimitiveType String = PrimitiveType.Of(PrimitiveKind.String);

    public static ListType List(ValType element) => new(element);
    public static OptionType Option(ValType inner) => new(inner);
    public static ResultType Result(ValType? ok = null, ValType? err = null) => new(ok, err);
    public static TupleType Tuple(params ValType[] elements) => new(elements);
    public static RecordType Record(params (string Name, ValType Type)[] fields) => new(fields.Select(f => new Field(f.Name, f.Type)).ToArray());
    public static VariantType Variant(params (string Name, ValType? Payload)[] cases) => new(cases.Select(c => new Case(c.Name, c.Payload)).ToArray());
    public static EnumType Enum(params string[] names) => new(names);
    public static FlagsType Flags(params string[] names) => new(names);
    public static OwnType Own(ResourceType r) => new(r);
    public static BorrowType Borrow(ResourceType r) => new(r);
    public static StreamType Stream(ValType? element) => new(element);
    public static FutureType Future(ValType? payload) => new(payload);

    /// <summary>A function type: <c>T.Func([("self", T.Borrow(fields)), ("name", T.String)], T.List(T.U8))</c>.</summary>
    public static FuncType Func((string Name, ValType Type)[] parameters, ValType? result = null) =>
        new(parameters.Select(p => new Field(p.Name, p.Type)).ToArray(), result);

    /// <summary>A WIT <c>async func</c> type (see <see cref="FuncType.IsAsync"/>).</summary>
    public static FuncType AsyncFunc((string Name, ValType Type)[] parameters, ValType? result = null) =>
        new(parameters.Select(p => new Field(p.Name, p.Type)).ToArray(), result, isAsync: true);
}
