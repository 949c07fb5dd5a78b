using Spindle.Components.Types;

namespace Spindle.Components.Abi;

/// <summary>Builds <see cref="AbiType"/> plans from component types (once per type, at load).</summary>
internal static class AbiBuilder
{
    public static AbiType Build(ValType t, int depth = 0)
    {
        if (depth > 100) throw new ComponentLoadException("component type nested more than 100 deep");
        return t switch
        {
            PrimitiveType { Kind: PrimitiveKind.F32 or PrimitiveKind.F64 } p => new FloatAbi(p),
            PrimitiveType { Kind: PrimitiveKind.Char } => new CharAbi(),
            PrimitiveType { Kind: PrimitiveKind.String } => new StringAbi(),
            PrimitiveType p => new IntAbi(p),
            ListType l => new ListAbi(l, Build(l.Element, depth + 1)),
            RecordType r => new RecordAbi(r, r.Fields.Select(f => Build(f.Type, depth + 1)).ToArray()),
            TupleType tu => new RecordAbi(tu, tu.Elements.Select(e => Build(e, depth + 1)).ToArray()),
            FlagsType f => new FlagsAbi(f),
            VariantType v => new VariantAbi(v, VariantShape.Variant, v.Cases.Select(c => c.Payload is null ? null : Build(c.Payload, depth + 1)).ToArray()),
            EnumType e => new VariantAbi(e, VariantShape.Enum, new AbiType?[e.Names.Count]),
            OptionType o => new VariantAbi(o, VariantShape.Option, [null, Build(o.Inner, depth + 1)]),
            ResultType r => new VariantAbi(r, VariantShape.Result, [r.Ok is null ? null : Build(r.Ok, depth + 1), r.Err is null ? null : Build(r.Err, depth + 1)]),
            OwnType o => new HandleAbi(o, o.Resource, own: true),
            BorrowType b => new HandleAbi(b, b.Resource, own: false),
            StreamType or FutureType => new AsyncValueAbi(t),
            _ => throw new ComponentLoadException($"unsupported component type {TypePrinter.Print(t)}"),
        };
    }
}

/// <summary>
/// The canonical ABI shape of a function type, computed once: per-parameter plans, whether parameters go through
/// memory (more than 16 flat values) and whether the result does (more than 1 flat value, via a return pointer).
/// </summary>
internal sealed class FuncAbi
{
    public const int MaxFlatParams = 16;
    public const int MaxFlatResults = 1;

    public FuncType Type { get; }
    public AbiType[] Params { get; }
    public AbiType? Result { get; }

    /// <summary>The parameters as one tuple, for the in-memory form.</summary>
    public RecordAbi ParamTuple { get; }
    public bool ParamsInMemory { get; }
    public bool ResultInMemory { get; }

    /// <summary>Flat parameter values (all parameters' flat types), used when <see cref="ParamsInMemory"/> is false.</summary>
    public int FlatParamCount { get; }

    public FuncAbi(FuncType type)
    {
        Type = type;
        Params = type.Params.Select(p => AbiBuilder.Build(p.Type)).ToArray();
        Result = type.Result is null ? null : AbiBuilder.Build(type.Result);
        ParamTuple = new RecordAbi(new TupleType(type.Params.Select(p => p.Type).ToArray()), Params);
        FlatParamCount = ParamTuple.Flat.Length;
        ParamsInMemory = FlatParamCount > MaxFlatParams;
        ResultInMemory = Result is not null && Result.Flat.Length > MaxFlatResults;
    }

    /// <summary>With <c>canon lower async</c>: at most 4 flat parameters, more go through memory.</summary>
    public const int MaxFlatAsyncParams = 4;

    /// <summary><c>canon lower async</c>: the parameters are passed as one pointer (more than 4 flat values).</summary>
    public bool AsyncParamsInMemory => FlatParamCount > MaxFlatAsyncParams;

    /// <summary><c>canon lower async</c>: every result (even a single flat value) is written through a return pointer.</summary>
    public bool AsyncHasReturnPointer => Result is not null && Result.Flat.Length > 0;

    /// <summary>
    /// Core type of a function lowered with <c>canon lower async</c> (CanonicalABI.md <c>flatten_functype</c>,
    /// context 'lower'): flat parameters or a parameter pointer, then the return pointer if there is a result;
    /// one i32 result, the packed subtask status.
    /// </summary>
    public (FlatKind[] Params, FlatKind[] Results) AsyncLowerCore()
    {
        FlatKind[] ps = AsyncParamsInMemory ? [FlatKind.I32] : ParamTuple.Flat;
        return (AsyncHasReturnPointer ? [.. ps, FlatKind.I32] : ps, [FlatKind.I32]);
    }

    /// <summary>Core parameter types of a lifted function, or of a lowered one (which adds the return pointer).</summary>
    public FlatKind[] CoreParams(bool lowered)
    {
        var ps = ParamsInMemory ? [FlatKind.I32] : ParamTuple.Flat;
        return lowered && ResultInMemory ? [.. ps, FlatKind.I32] : ps;
    }

    /// <summary>Core result types of a lifted function (a pointer when in memory) or a lowered one (none when in memory).</summary>
    public FlatKind[] CoreResults(bool lowered) =>
        Result is null ? [] : ResultInMemory ? (lowered ? [] : [FlatKind.I32]) : Result.Flat;

    /// <summary>True when lifting or lowering needs linear memory.</summary>
    public bool NeedsMemory => ParamsInMemory || ResultInMemory || Params.Any(UsesMemory) || (Result is not null && UsesMemory(Result));

    /// <summary><see cref="NeedsMemory"/> for <c>canon lower async</c> (which also passes more values by pointer).</summary>
    public bool NeedsMemoryAsync => NeedsMemory || AsyncParamsInMemory || AsyncHasReturnPointer;

    private static bool UsesMemory(AbiType t) => t is StringAbi or ListAbi || t is RecordAbi or VariantAbi && TypeUsesMemory(t.Type);

    private static bool TypeUsesMemory(ValType t) => t switch
    {
        PrimitiveType { Kind: PrimitiveKind.String } or ListType => true,
        RecordType r => r.Fields.Any(f => TypeUsesMemory(f.Type)),
        TupleType tu => tu.Elements.Any(TypeUsesMemory),
        VariantType v => v.Cases.Any(c => c.Payload is not null && TypeUsesMemory(c.Payload)),
        OptionType o => TypeUsesMemory(o.Inner),
        ResultType r => (r.Ok is not null && TypeUsesMemory(r.Ok)) || (r.Err is not null && TypeUsesMemory(r.Err)),
        _ => false,
    };
}
