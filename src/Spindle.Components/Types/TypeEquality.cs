namespace Spindle.Components.Types;

/// <summary>
/// Structural equality of component types: same shape, same names, same order. Resource types compare by
/// identity (two handles are equal when they name the same <see cref="ResourceType"/> object).
/// </summary>
public static class TypeEquality
{
    /// <summary>True when the two value types are structurally equal.</summary>
    public static bool Equal(ValType? a, ValType? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null) return false;
        switch (a)
        {
            case PrimitiveType pa: return b is PrimitiveType pb && pa.Kind == pb.Kind;
            case ListType la: return b is ListType lb && Equal(la.Element, lb.Element);
            case OptionType oa: return b is OptionType ob && Equal(oa.Inner, ob.Inner);
            case ResultType ra: return b is ResultType rb && Equal(ra.Ok, rb.Ok) && Equal(ra.Err, rb.Err);
            case OwnType wa: return b is OwnType wb && ReferenceEquals(wa.Resource, wb.Resource);
            case BorrowType ba: return b is BorrowType bb && ReferenceEquals(ba.Resource, bb.Resource);
            case StreamType sa: return b is StreamType sb && Equal(sa.Element, sb.Element);
            case FutureType fu: return b is FutureType fv && Equal(fu.Payload, fv.Payload);
            case EnumType ea: return b is EnumType eb && Names(ea.Names, eb.Names);
            case FlagsType fa: return b is FlagsType fb && Names(fa.Names, fb.Names);
            case TupleType ta:
                if (b is not TupleType tb || ta.Elements.Count != tb.Elements.Count) return false;
                for (var i = 0; i < ta.Elements.Count; i++) if (!Equal(ta.Elements[i], tb.Elements[i])) return false;
                return true;
            case RecordType rca:
                if (b is not RecordType rcb || rca.Fields.Count != rcb.Fields.Count) return false;
                for (var i = 0; i < rca.Fields.Count; i++)
                    if (rca.Fields[i].Name != rcb.Fields[i].Name || !Equal(rca.Fields[i].Type, rcb.Fields[i].Type)) return false;
                return true;
            case VariantType va:
                if (b is not VariantType vb || va.Cases.Count != vb.Cases.Count) return false;
                for (var i = 0; i < va.Cases.Count; i++)
                    if (va.Cases[i].Name != vb.Cases[i].Name || !Equal(va.Cases[i].Payload, vb.Cases[i].Payload)) return false;
                return true;
            case FuncType fa2:
                if (b is not FuncType fb2 || fa2.IsAsync != fb2.IsAsync || fa2.Params.Count != fb2.Params.Count || !Equal(fa2.Result, fb2.Result)) return false;
                for (var i = 0; i < fa2.Params.Count; i++)
                    if (fa2.Params[i].Name != fb2.Params[i].Name || !Equal(fa2.Params[i].Type, fb2.Params[i].Type)) return false;
                return true;
            default: return false;
        }
    }

    private static bool Names(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        if (a.Count != b.Count) return false;
        for (var i = 0; i < a.Count; i++) if (a[i] != b[i]) return false;
        return true;
    }
}
