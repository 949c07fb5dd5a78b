using Spindle.Components.Binary;
using Spindle.Components.Types;

namespace Spindle.Components.Planning;

/// <summary>An entry of a type index space.</summary>
internal abstract record TypeEntry;
internal sealed record ValTypeEntry(ValType Type) : TypeEntry;
internal sealed record ResourceEntry(ResourceType Resource) : TypeEntry;

/// <summary>An instance type, resolved when something of that type is imported (its resources depend on the import).</summary>
internal sealed record InstanceTypeEntry(InstanceTypeAst Ast, TypeScope Scope) : TypeEntry;
internal sealed record ComponentTypeEntry(ComponentTypeAst Ast, TypeScope Scope) : TypeEntry;

/// <summary>A type index space with a lexical parent for <c>alias outer</c>.</summary>
internal class TypeScope(TypeScope? parent)
{
    public TypeScope? Parent { get; } = parent;
    public List<TypeEntry> Types { get; } = [];

    public TypeEntry Type(int index, int offset)
    {
        if ((uint)index >= (uint)Types.Count)
            throw new ComponentLoadException($"malformed component: type index {index} out of range (have {Types.Count}) at byte offset 0x{offset:x}");
        return Types[index];
    }

    public TypeScope Outer(int count, int offset)
    {
        var s = this;
        for (var i = 0; i < count; i++)
            s = s.Parent ?? throw new ComponentLoadException($"malformed component: outer alias count {count} reaches beyond the outermost component at byte offset 0x{offset:x}");
        return s;
    }

    public ValType ValType(ValRef r, int offset)
    {
        if (r.Primitive is { } p) return PrimitiveType.Of(p);
        return Type(r.Index, offset) switch
        {
            ValTypeEntry { Type: not FuncType } v => v.Type,
            var other => throw new ComponentLoadException($"malformed component: type index {r.Index} is a {Describe(other)}, not a value type, at byte offset 0x{offset:x}"),
        };
    }

    public ResourceType Resource(int index, int offset) => Type(index, offset) switch
    {
        ResourceEntry e => e.Resource,
        var other => throw new ComponentLoadException($"malformed component: type index {index} is a {Describe(other)}, not a resource, at byte offset 0x{offset:x}"),
    };

    public FuncType Func(int index, int offset) => Type(index, offset) switch
    {
        ValTypeEntry { Type: FuncType f } => f,
        var other => throw new ComponentLoadException($"malformed component: type index {index} is a {Describe(other)}, not a function type, at byte offset 0x{offset:x}"),
    };

    internal static string Describe(TypeEntry e) => e switch
    {
        ValTypeEntry { Type: FuncType } => "function type",
        ValTypeEntry => "value type",
        ResourceEntry => "resource type",
        InstanceTypeEntry => "instance type",
        ComponentTypeEntry => "component type",
        _ => "type",
    };

    /// <summary>Resolves a type definition in this scope.</summary>
    public TypeEntry Define(TypeAst ast, int offset) => ast switch
    {
        FuncAst f => new ValTypeEntry(new FuncType(
            Array.ConvertAll(f.Params, p => new Field(p.Name, ValType(p.Type, offset))),
            f.Result is { } r ? ValType(r, offset) : null, f.Async)),
        ResourceAst => new ResourceEntry(new GuestResourceType($"resource@0x{offset:x}", offset)),
        InstanceTypeAst i => new InstanceTypeEntry(i, this),
        ComponentTypeAst c => new ComponentTypeEntry(c, this),
        _ => new ValTypeEntry(DefVal(ast, offset)),
    };

    private ValType DefVal(TypeAst ast, int offset) => ast switch
    {
        PrimitiveAst p => PrimitiveType.Of(p.Kind),
        RecordAst r => new RecordType(Array.ConvertAll(r.Fields, f => new Field(f.Name, ValType(f.Type, offset)))),
        VariantAst v => new VariantType(Array.ConvertAll(v.Cases, c => new Case(c.Name, c.Payload is { } p ? ValType(p, offset) : null))),
        ListAst l => new ListType(ValType(l.Element, offset)),
        TupleAst t => new TupleType(Array.ConvertAll(t.Elements, e => ValType(e, offset))),
        FlagsAst f => new FlagsType(f.Names),
        EnumAst e => new EnumType(e.Names),
        OptionAst o => new OptionType(ValType(o.Inner, offset)),
        ResultAst r => new ResultType(r.Ok is { } ok ? ValType(ok, offset) : null, r.Err is { } err ? ValType(err, offset) : null),
        OwnAst o => new OwnType(Resource(o.Resource, offset)),
        BorrowAst b => new BorrowType(Resource(b.Resource, offset)),
        StreamAst st => new StreamType(st.Element is { } e ? ValType(e, offset) : null),
        FutureAst fu => new FutureType(fu.Payload is { } v ? ValType(v, offset) : null),
        _ => throw new ComponentLoadException($"malformed component: unexpected type {ast.GetType().Name} at byte offset 0x{offset:x}"),
    };
}

/// <summary>The exports of an instance type once resolved for one import.</summary>
internal sealed class ResolvedInstanceType
{
    public Dictionary<string, FuncType> Funcs { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, TypeEntry> Types { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Walks an instance type's declarations. <paramref name="bindResource"/> supplies the resource type for each
    /// <c>(export "r" (type (sub resource)))</c>: the host's resource for a host import.
    /// </summary>
    public static ResolvedInstanceType Resolve(InstanceTypeEntry entry, Func<string, ResourceType> bindResource, int offset)
    {
        var scope = new TypeScope(entry.Scope);
        var result = new ResolvedInstanceType();
        var instances = new List<ResolvedInstanceType>();
        foreach (var decl in entry.Ast.Decls)
        {
            switch (decl)
            {
                case CoreTypeDecl: break;
                case TypeDecl t: scope.Types.Add(scope.Define(t.Type, offset)); break;
                case AliasDecl { Alias: { Kind: AliasKind.Outer, Sort.Sort: Sort.Type } a }:
                    scope.Types.Add(scope.Outer(a.OuterCount, a.Offset).Type(a.OuterIndex, a.Offset));
                    break;
                case AliasDecl { Alias: { Kind: AliasKind.InstanceExport, Sort.Sort: Sort.Type } a } when a.Instance < instances.Count:
                    scope.Types.Add(instances[a.Instance].Types.TryGetValue(a.Name, out var te) ? te
                        : throw new ComponentLoadException($"malformed component: instance type has no type export '{a.Name}' (byte offset 0x{a.Offset:x})"));
                    break;
                case AliasDecl { Alias: var a }:
                    throw new ComponentLoadException($"unsupported alias of {a.Sort} inside an instance type at byte offset 0x{a.Offset:x}");
                case ExportDecl e:
                    switch (e.Desc)
                    {
                        case { Kind: ExternKind.Type, SubResource: true }:
                        {
                            var r = new ResourceEntry(bindResource(e.Name));
                            scope.Types.Add(r);
                            result.Types[e.Name] = r;
                            break;
                        }
                        case { Kind: ExternKind.Type }:
                        {
                            var t = scope.Type(e.Desc.Index, offset);
                            scope.Types.Add(t);
                            result.Types[e.Name] = t;
                            break;
                        }
                        case { Kind: ExternKind.Func }:
                            result.Funcs[e.Name] = scope.Func(e.Desc.Index, offset);
                            break;
                        case { Kind: ExternKind.Instance }:
                            if (scope.Type(e.Desc.Index, offset) is not InstanceTypeEntry nested)
                                throw new ComponentLoadException($"malformed component: instance export '{e.Name}' does not have an instance type (byte offset 0x{offset:x})");
                            instances.Add(Resolve(nested, n => new AbstractResourceType(n), offset));
                            break;
                        default:
                            throw new ComponentLoadException($"unsupported {e.Desc} export '{e.Name}' in an instance type (byte offset 0x{offset:x})");
                    }
                    break;
                case ImportDecl i:
                    throw new ComponentLoadException($"malformed component: import '{i.Name}' inside an instance type (byte offset 0x{offset:x})");
            }
        }
        return result;
    }
}
