using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Spindle.Components.Binary;
using Spindle.Components.Types;

namespace Spindle.Components.Abi;

/// <summary>
/// string in the three canonical encodings (utf8, utf16, latin1+utf16 with the 1&lt;&lt;31 UTF-16 tag).
/// Guest strings are validated (invalid UTF-8 or unpaired surrogates trap); host strings must be valid
/// Unicode too, since the guest is entitled to well-formed text.
/// </summary>
internal sealed class StringAbi : PointerPairAbi
{
    private const uint Utf16Tag = 1u << 31;
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);
    private static readonly UnicodeEncoding StrictUtf16 = new(false, false, true);

    public StringAbi() : base(T.String) { }

    protected override object Lift(AbiContext cx, uint ptr, uint len)
    {
        cx.Charge(len & ~Utf16Tag);
        switch (cx.Encoding)
        {
            case StringEncoding.Utf8:
                return Decode(StrictUtf8, cx.Slice(ptr, len), "UTF-8");
            case StringEncoding.Utf16:
                return LiftUtf16(cx, ptr, len);
            default:
                if ((len & Utf16Tag) != 0) return LiftUtf16(cx, ptr, len & ~Utf16Tag);
                return Encoding.Latin1.GetString(cx.Slice(ptr, len));
        }
    }

    private static string LiftUtf16(AbiContext cx, uint ptr, uint codeUnits)
    {
        if ((ptr & 1) != 0) throw AbiContext.Trap($"UTF-16 string pointer 0x{ptr:x} is not 2-byte aligned");
        return Decode(StrictUtf16, cx.Slice(ptr, 2L * codeUnits), "UTF-16");
    }

    private static string Decode(Encoding e, ReadOnlySpan<byte> bytes, string name)
    {
        try { return e.GetString(bytes); }
        catch (DecoderFallbackException) { throw AbiContext.Trap($"string from the guest is not valid {name}"); }
    }

    protected override (uint Ptr, uint Len) Lower(AbiContext cx, object? value)
    {
        if (value is not string s) throw BadValue(value);
        if (s.Length == 0) return (cx.Encoding == StringEncoding.Utf8 ? cx.Alloc(1, 0) : cx.Alloc(2, 0), 0);
        switch (cx.Encoding)
        {
            case StringEncoding.Utf8:
            {
                int n;
                try { n = StrictUtf8.GetByteCount(s); }
                catch (EncoderFallbackException) { throw new ArgumentException("host string contains an unpaired surrogate"); }
                var p = cx.Alloc(1, n);
                StrictUtf8.GetBytes(s, cx.Slice(p, n));
                return (p, (uint)n);
            }
            case StringEncoding.Utf16:
                return (StoreUtf16(cx, s), (uint)s.Length);
            default:
            {
                if (IsLatin1(s))
                {
                    var p = cx.Alloc(2, s.Length);
                    Encoding.Latin1.GetBytes(s, cx.Slice(p, s.Length));
                    return (p, (uint)s.Length);
                }
                return (StoreUtf16(cx, s), (uint)s.Length | Utf16Tag);
            }
        }
    }

    private static uint StoreUtf16(AbiContext cx, string s)
    {
        try { StrictUtf16.GetByteCount(s); }
        catch (EncoderFallbackException) { throw new ArgumentException("host string contains an unpaired surrogate"); }
        var p = cx.Alloc(2, 2L * s.Length);
        var dst = cx.Slice(p, 2L * s.Length);
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(s.AsSpan()).CopyTo(dst);
        else for (var i = 0; i < s.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(dst[(2 * i)..], s[i]);
        return p;
    }

    private static bool IsLatin1(string s)
    {
        foreach (var c in s) if (c > 0xff) return false;
        return true;
    }
}
