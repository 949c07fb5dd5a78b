using System.Buffers.Binary;
using Spindle.Components.Types;
using Spindle.Components.Values;

namespace Spindle.Components.Abi;

/// <summary>
/// list&lt;T&gt;: (ptr, len) with the elements at ptr; list&lt;u8&gt; is carried as <see cref="byte"/>[] (or, for host
/// functions that borrow bytes, as a <see cref="GuestBytes"/> view of guest memory).
/// </summary>
internal sealed class ListAbi : PointerPairAbi
{
    /// <summary>Element count limit for lists lifted into object arrays (a guest must not make the host allocate without bound).</summary>
    public const uint MaxLiftedElements = 1 << 24;

    private readonly AbiType _elem;
    private readonly bool _bytes;

    public ListAbi(ListType t, AbiType elem) : base(t)
    {
        _elem = elem;
        _bytes = elem.Type is PrimitiveType { Kind: PrimitiveKind.U8 };
    }

    protected override object Lift(AbiContext cx, uint ptr, uint len)
    {
        if ((ptr & (uint)(_elem.Align - 1)) != 0) throw AbiContext.Trap($"list pointer 0x{ptr:x} is not {_elem.Align}-byte aligned");
        var bytes = (long)len * _elem.Size;
        var span = cx.Slice(ptr, bytes); // bounds check once for the whole list
        cx.Charge(_bytes ? bytes : bytes + 8L * len);
        if (_bytes) return cx.BorrowBytes ? new GuestBytes(span) : span.ToArray();
        if (len > MaxLiftedElements) throw AbiContext.Trap($"list of {len} elements is longer than the host accepts ({MaxLiftedElements})");
        var items = new object?[len];
        for (var k = 0; k < items.Length; k++) items[k] = _elem.Load(cx, ptr + (uint)(k * _elem.Size));
        return items;
    }

    protected override (uint Ptr, uint Len) Lower(AbiContext cx, object? value)
    {
        if (_bytes)
        {
            ReadOnlySpan<byte> src = value switch
            {
                byte[] b => b,
                ReadOnlyMemory<byte> m => m.Span,
                Memory<byte> m => m.Span,
                ArraySegment<byte> a => a.AsSpan(),
                _ => throw BadValue(value),
            };
            var p = cx.Alloc(1, src.Length);
            src.CopyTo(cx.Slice(p, src.Length));
            return (p, (uint)src.Length);
        }
        if (value is not System.Collections.IList list) throw BadValue(value);
        var n = list.Count;
        var ptr = cx.Alloc(_elem.Align, (long)n * _elem.Size);
        for (var k = 0; k < n; k++) _elem.Store(cx, list[k], ptr + (uint)(k * _elem.Size));
        return (ptr, (uint)n);
    }
}

/// <summary>record and tuple: <see cref="object"/>?[] of the fields in order.</summary>
internal sealed class RecordAbi : AbiType
{
    private readonly AbiType[] _fields;
    private readonly int[] _offsets;

    public RecordAbi(ValType t, AbiType[] fields) : base(t)
    {
        _fields = fields;
        _offsets = new int[fields.Length];
        var size = 0;
        var align = 1;
        var flat = new List<FlatKind>();
        for (var k = 0; k < fields.Length; k++)
        {
            size = AlignTo(size, fields[k].Align);
            _offsets[k] = size;
            size += fields[k].Size;
            align = Math.Max(align, fields[k].Align);
            flat.AddRange(fields[k].Flat);
        }
        Align = align;
        Size = AlignTo(size, align);
        Flat = flat.ToArray();
    }

    public override object? Load(AbiContext cx, uint ptr)
    {
        var v = new object?[_fields.Length];
        for (var k = 0; k < v.Length; k++) v[k] = _fields[k].Load(cx, ptr + (uint)_offsets[k]);
        return v;
    }

    public override void Store(AbiContext cx, object? value, uint ptr)
    {
        var v = Fields(value);
        for (var k = 0; k < _fields.Length; k++) _fields[k].Store(cx, v[k], ptr + (uint)_offsets[k]);
    }

    public override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i)
    {
        var v = new object?[_fields.Length];
        for (var k = 0; k < v.Length; k++) v[k] = _fields[k].LiftFlat(cx, flat, ref i);
        return v;
    }

    public override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i)
    {
        var v = Fields(value);
        for (var k = 0; k < _fields.Length; k++) _fields[k].LowerFlat(cx, v[k], flat, ref i);
    }

    private object?[] Fields(object? value) => value is object?[] a && a.Length == _fields.Length ? a : throw BadValue(value);
}

/// <summary>flags: a <see cref="uint"/> bit set stored in 1, 2 or 4 bytes.</summary>
internal sealed class FlagsAbi : AbiType
{
    private readonly uint _mask;

    public FlagsAbi(FlagsType t) : base(t)
    {
        var n = t.Names.Count;
        Size = Align = n <= 8 ? 1 : n <= 16 ? 2 : 4;
        Flat = [FlatKind.I32];
        _mask = n >= 32 ? uint.MaxValue : (1u << n) - 1;
    }

    private uint Bits(object? value) => value is uint u && (u & ~_mask) == 0 ? u : throw BadValue(value);

    public override object? Load(AbiContext cx, uint ptr)
    {
        var s = cx.Slice(ptr, Size);
        uint v = Size switch { 1 => s[0], 2 => BinaryPrimitives.ReadUInt16LittleEndian(s), _ => BinaryPrimitives.ReadUInt32LittleEndian(s) };
        return v & _mask;
    }

    public override void Store(AbiContext cx, object? value, uint ptr)
    {
        var v = Bits(value);
        var s = cx.Slice(ptr, Size);
        switch (Size)
        {
            case 1: s[0] = (byte)v; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)v); break;
            default: BinaryPrimitives.WriteUInt32LittleEndian(s, v); break;
        }
    }

    public override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i) => (uint)flat[i++] & _mask;
    public override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i) => flat[i++] = Bits(value);
}

/// <summary>How a variant-shaped type (variant, enum, option, result) maps to host values.</summary>
internal enum VariantShape { Variant, Enum, Option, Result }

/// <summary>
/// variant and its despecializations (enum, option, result): a discriminant of 1, 2 or 4 bytes, then the
/// payload at the maximum case alignment; flattened as the discriminant plus the join of the cases' flat types.
/// </summary>
internal sealed class VariantAbi : AbiType
{
    private readonly AbiType?[] _cases;
    private readonly VariantShape _shape;
    private readonly int _discSize;
    private readonly int _payloadOffset;
    private readonly int _payloadFlat;

    public VariantAbi(ValType t, VariantShape shape, AbiType?[] cases) : base(t)
    {
        _cases = cases;
        _shape = shape;
        _discSize = cases.Length <= 256 ? 1 : cases.Length <= 65536 ? 2 : 4;
        var maxAlign = _discSize;
        var maxSize = 0;
        var joined = new List<FlatKind>();
        foreach (var c in cases)
        {
            if (c is null) continue;
            maxAlign = Math.Max(maxAlign, c.Align);
            maxSize = Math.Max(maxSize, c.Size);
            for (var k = 0; k < c.Flat.Length; k++)
            {
                if (k < joined.Count) joined[k] = Join(joined[k], c.Flat[k]);
                else joined.Add(c.Flat[k]);
            }
        }
        var casesAlign = 1;
        foreach (var c in cases) if (c is not null) casesAlign = Math.Max(casesAlign, c.Align);
        _payloadOffset = AlignTo(_discSize, casesAlign);
        Align = maxAlign;
        Size = AlignTo(_payloadOffset + maxSize, maxAlign);
        _payloadFlat = joined.Count;
        Flat = [FlatKind.I32, .. joined];
    }

    private static FlatKind Join(FlatKind a, FlatKind b) =>
        a == b ? a : (a, b) is (FlatKind.I32, FlatKind.F32) or (FlatKind.F32, FlatKind.I32) ? FlatKind.I32 : FlatKind.I64;

    private uint CheckCase(uint disc) => disc < (uint)_cases.Length ? disc
        : throw AbiContext.Trap($"invalid discriminant {disc} for {TypePrinter.Print(Type)} ({_cases.Length} cases)");

    public override object? Load(AbiContext cx, uint ptr)
    {
        var s = cx.Slice(ptr, Size);
        uint disc = _discSize switch { 1 => s[0], 2 => BinaryPrimitives.ReadUInt16LittleEndian(s), _ => BinaryPrimitives.ReadUInt32LittleEndian(s) };
        var c = (int)CheckCase(disc);
        var payload = _cases[c]?.Load(cx, ptr + (uint)_payloadOffset);
        return Make(c, payload);
    }

    public override void Store(AbiContext cx, object? value, uint ptr)
    {
        var (c, payload) = Split(value);
        var s = cx.Slice(ptr, _discSize);
        switch (_discSize)
        {
            case 1: s[0] = (byte)c; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)c); break;
            default: BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)c); break;
        }
        _cases[c]?.Store(cx, payload, ptr + (uint)_payloadOffset);
    }

    public override object? LiftFlat(AbiContext cx, ReadOnlySpan<ulong> flat, ref int i)
    {
        var c = (int)CheckCase((uint)flat[i++]);
        var start = i;
        var payload = _cases[c]?.LiftFlat(cx, flat, ref i);
        i = start + _payloadFlat;
        return Make(c, payload);
    }

    public override void LowerFlat(AbiContext cx, object? value, Span<ulong> flat, ref int i)
    {
        var (c, payload) = Split(value);
        flat[i++] = (uint)c;
        var start = i;
        _cases[c]?.LowerFlat(cx, payload, flat, ref i);
        for (; i < start + _payloadFlat; i++) flat[i] = 0;
    }

    private object? Make(int c, object? payload) => _shape switch
    {
        VariantShape.Enum => c,
        VariantShape.Option => c == 0 ? null : new Some(payload),
        VariantShape.Result => c == 0 ? ResultValue.Ok(payload) : ResultValue.Err(payload),
        _ => new VariantValue(c, payload),
    };

    private (int Case, object? Payload) Split(object? value)
    {
        var (c, payload) = (_shape, value) switch
        {
            (VariantShape.Enum, int e) => (e, null),
            (VariantShape.Option, null) => (0, null),
            (VariantShape.Option, Some s) => (1, s.Value),
            (VariantShape.Result, ResultValue r) => (r.IsOk ? 0 : 1, r.Value),
            (VariantShape.Variant, VariantValue v) => (v.Case, v.Payload),
            _ => throw BadValue(value),
        };
        if ((uint)c >= (uint)_cases.Length) throw BadValue(value);
        return (c, payload);
    }
}
