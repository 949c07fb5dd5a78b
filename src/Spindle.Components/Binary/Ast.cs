using Spindle.Components.Types;

namespace Spindle.Components.Binary;

// The parsed component, as close to the binary format as is useful: definitions in section order, indices
// unresolved. Planning walks these once, building index spaces as the spec does.

/// <summary>Component-level sorts (core sorts are carried separately as <see cref="CoreSort"/>).</summary>
internal enum Sort : byte { Core = 0, Func = 1, Value = 2, Type = 3, Component = 4, Instance = 5 }

/// <summary>Core sorts, numbered as in the binary format.</summary>
internal enum CoreSort : byte { Func = 0x00, Table = 0x01, Memory = 0x02, Global = 0x03, Type = 0x10, Module = 0x11, Instance = 0x12 }

/// <summary>A sort with its core sort when <see cref="Sort"/> is <see cref="Sort.Core"/>.</summary>
internal readonly record struct SortKind(Sort Sort, CoreSort Core)
{
    public override string ToString() => Sort == Sort.Core ? "core " + Core.ToString().ToLowerInvariant() : Sort.ToString().ToLowerInvariant();
}

internal sealed class ComponentAst
{
    public List<Definition> Definitions { get; } = [];
    public int Offset { get; init; }
}

internal abstract record Definition(int Offset);

internal sealed record CoreModuleDef(int Offset, ReadOnlyMemory<byte> Bytes) : Definition(Offset);
internal sealed record CoreInstantiateDef(int Offset, int Module, (string Name, int Instance)[] Args) : Definition(Offset);
internal sealed record CoreInstanceFromExportsDef(int Offset, (string Name, CoreSort Sort, int Index)[] Exports) : Definition(Offset);
internal sealed record CoreTypeDef(int Offset) : Definition(Offset);
internal sealed record NestedComponentDef(int Offset, ComponentAst Component) : Definition(Offset);
internal sealed record InstantiateDef(int Offset, int Component, (string Name, SortKind Sort, int Index)[] Args) : Definition(Offset);
internal sealed record InstanceFromExportsDef(int Offset, (string Name, SortKind Sort, int Index)[] Exports) : Definition(Offset);

internal enum AliasKind : byte { InstanceExport = 0, CoreInstanceExport = 1, Outer = 2 }
internal sealed record AliasDef(int Offset, SortKind Sort, AliasKind Kind, int Instance, string Name, int OuterCount, int OuterIndex) : Definition(Offset);

internal sealed record TypeDef(int Offset, TypeAst Type) : Definition(Offset);

internal enum StringEncoding : byte { Utf8 = 0, Utf16 = 1, Latin1Utf16 = 2 }
/// <summary>Canon options; <see cref="Async"/> is the component-model async option (<c>canon lower ... async</c>).</summary>
internal sealed record CanonOptions(StringEncoding Encoding, int? Memory, int? Realloc, int? PostReturn, bool Async = false);

/// <summary>
/// The canon definitions Spindle runs. The async built-ins act on the waitables of a component instance's handle
/// table; <c>waitable-set.wait</c>/<c>poll</c> carry their memory index in <see cref="CanonDef.Index"/>.
/// </summary>
internal enum CanonKind
{
    Lift, Lower, ResourceNew, ResourceDrop, ResourceRep,
    WaitableSetNew, WaitableSetWait, WaitableSetPoll, WaitableSetDrop, WaitableJoin, SubtaskDrop, SubtaskCancel,
    StreamRead, StreamCancelRead, StreamDropReadable, FutureRead, FutureCancelRead, FutureDropReadable,
}
internal sealed record CanonDef(int Offset, CanonKind Kind, int Index, CanonOptions Options, int TypeIndex) : Definition(Offset);

internal sealed record ImportDef(int Offset, string Name, ExternDesc Desc) : Definition(Offset);
internal sealed record ExportDef(int Offset, string Name, SortKind Sort, int Index, ExternDesc? Desc) : Definition(Offset);

// ---- types ----

internal enum ExternKind : byte { CoreModule = 0, Func = 1, Value = 2, Type = 3, Instance = 5, Component = 4 }

/// <summary>An import/export description. For <see cref="ExternKind.Type"/>, <see cref="SubResource"/> or an eq-bound index.</summary>
internal sealed record ExternDesc(ExternKind Kind, int Index, bool SubResource)
{
    public override string ToString() => Kind == ExternKind.Type && SubResource ? "type (sub resource)" : $"{Kind.ToString().ToLowerInvariant()} (type {Index})";
}

/// <summary>A value type reference: a primitive or an index into the type index space.</summary>
internal readonly record struct ValRef(PrimitiveKind? Primitive, int Index);

internal abstract record TypeAst;
internal sealed record PrimitiveAst(PrimitiveKind Kind) : TypeAst;
internal sealed record RecordAst((string Name, ValRef Type)[] Fields) : TypeAst;
internal sealed record VariantAst((string Name, ValRef? Payload)[] Cases) : TypeAst;
internal sealed record ListAst(ValRef Element) : TypeAst;
internal sealed record TupleAst(ValRef[] Elements) : TypeAst;
internal sealed record FlagsAst(string[] Names) : TypeAst;
internal sealed record EnumAst(string[] Names) : TypeAst;
internal sealed record OptionAst(ValRef Inner) : TypeAst;
internal sealed record ResultAst(ValRef? Ok, ValRef? Err) : TypeAst;
internal sealed record OwnAst(int Resource) : TypeAst;
internal sealed record BorrowAst(int Resource) : TypeAst;
internal sealed record StreamAst(ValRef? Element) : TypeAst;
internal sealed record FutureAst(ValRef? Payload) : TypeAst;
internal sealed record FuncAst((string Name, ValRef Type)[] Params, ValRef? Result, bool Async = false) : TypeAst;
internal sealed record ResourceAst(int? Destructor) : TypeAst;
internal sealed record ComponentTypeAst(Declaration[] Decls) : TypeAst;
internal sealed record InstanceTypeAst(Declaration[] Decls) : TypeAst;

/// <summary>A declaration inside a component or instance type.</summary>
internal abstract record Declaration;
internal sealed record CoreTypeDecl : Declaration;
internal sealed record TypeDecl(TypeAst Type) : Declaration;
internal sealed record AliasDecl(AliasDef Alias) : Declaration;
internal sealed record ExportDecl(string Name, ExternDesc Desc) : Declaration;
internal sealed record ImportDecl(string Name, ExternDesc Desc) : Declaration;
