using System.Text;

namespace Spindle.Components.Types;

/// <summary>Prints component types in a WIT-like form for error messages.</summary>
public static class TypePrinter
{
    /// <summary>The WIT-like text of a type (<c>func(self: borrow&lt;fields&gt;) -> list&lt;u8&gt;</c>).</summary>
    public static string Print(ValType? type)
    {
        var sb = new StringBuilder();
        Append(sb, type, 0);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, ValType? t, int depth)
    {
        if (depth > 20) { sb.Append("..."); return; }
        switch (t)
        {
            case null: sb.Append("_"); break;
            case PrimitiveType p: sb.Append(p.Kind switch { PrimitiveKind.F32 => "f32", PrimitiveKind.F64 => "f64", _ => p.ToString() }); break;
            case ListType l: sb.Append("list<"); Append(sb, l.Element, depth + 1); sb.Append('>'); break;
            case OptionType o: sb.Append("option<"); Append(sb, o.Inner, depth + 1); sb.Append('>'); break;
            case ResultType r:
                if (r.Ok is null && r.Err is null) { sb.Append("result"); break; }
                sb.Append("result<");
                Append(sb, r.Ok, depth + 1);
                if (r.Err is not null) { sb.Append(", "); Append(sb, r.Err, depth + 1); }
                sb.Append('>');
                break;
            case TupleType tu:
                sb.Append("tuple<");
                for (var i = 0; i < tu.Elements.Count; i++) { if (i > 0) sb.Append(", "); Append(sb, tu.Elements[i], depth + 1); }
                sb.Append('>');
                break;
            case RecordType rc:
                sb.Append("record { ");
                for (var i = 0; i < rc.Fields.Count; i++) { if (i > 0) sb.Append(", "); sb.Append(rc.Fields[i].Name).Append(": "); Append(sb, rc.Fields[i].Type, depth + 1); }
                sb.Append(" }");
                break;
            case VariantType v:
                sb.Append("variant { ");
                for (var i = 0; i < v.Cases.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    sb.Append(v.Cases[i].Name);
                    if (v.Cases[i].Payload is { } pl) { sb.Append('('); Append(sb, pl, depth + 1); sb.Append(')'); }
                }
                sb.Append(" }");
                break;
            case EnumType e: sb.Append("enum { ").AppendJoin(", ", e.Names).Append(" }"); break;
            case FlagsType f: sb.Append("flags { ").AppendJoin(", ", f.Names).Append(" }"); break;
            case OwnType w: sb.Append("own<").Append(w.Resource.Name).Append('>'); break;
            case BorrowType b: sb.Append("borrow<").Append(b.Resource.Name).Append('>'); break;
            case StreamType st:
                sb.Append("stream");
                if (st.Element is not null) { sb.Append('<'); Append(sb, st.Element, depth + 1); sb.Append('>'); }
                break;
            case FutureType fu:
                sb.Append("future");
                if (fu.Payload is not null) { sb.Append('<'); Append(sb, fu.Payload, depth + 1); sb.Append('>'); }
                break;
            case FuncType fn:
                sb.Append(fn.IsAsync ? "async func(" : "func(");
                for (var i = 0; i < fn.Params.Count; i++) { if (i > 0) sb.Append(", "); sb.Append(fn.Params[i].Name).Append(": "); Append(sb, fn.Params[i].Type, depth + 1); }
                sb.Append(')');
                if (fn.Result is not null) { sb.Append(" -> "); Append(sb, fn.Result, depth + 1); }
                break;
            default: sb.Append(t.GetType().Name); break;
        }
    }
}
