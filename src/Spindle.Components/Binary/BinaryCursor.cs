using System.Text;

namespace Spindle.Components.Binary;

/// <summary>
/// Reads LEB128 integers, names and bytes from a component binary, keeping the absolute offset and the section
/// being read so that every error can say where it happened.
/// </summary>
internal sealed class BinaryCursor(ReadOnlyMemory<byte> data, int baseOffset, string section)
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);
    private readonly ReadOnlyMemory<byte> _data = data;
    private int _pos;

    public string Section { get; set; } = section;
    public int Position => _pos;
    public int Offset => baseOffset + _pos;
    public bool AtEnd => _pos >= _data.Length;
    public int Remaining => _data.Length - _pos;

    public ComponentLoadException Error(string message) => ErrorAt(Offset, message);

    public ComponentLoadException ErrorAt(int offset, string message) =>
        new($"malformed component: {message} (in {Section} section at byte offset 0x{offset:x})");

    public byte ReadByte()
    {
        if (_pos >= _data.Length) throw Error("unexpected end of data");
        return _data.Span[_pos++];
    }

    public byte PeekByte()
    {
        if (_pos >= _data.Length) throw Error("unexpected end of data");
        return _data.Span[_pos];
    }

    public uint ReadU32()
    {
        uint result = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (shift > 28) throw Error("LEB128 u32 too long");
            var b = ReadByte();
            if (shift == 28 && (b & 0x70) != 0) throw Error("LEB128 u32 out of range");
            result |= (uint)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
    }

    /// <summary>Reads a u32 that is used as a count or index, rejecting values that cannot be one.</summary>
    public int ReadIndex()
    {
        var v = ReadU32();
        if (v > int.MaxValue) throw Error($"index or count {v} too large");
        return (int)v;
    }

    /// <summary>Reads a vector length, checking that it cannot exceed the remaining bytes (each item takes at least one byte).</summary>
    public int ReadCount()
    {
        var at = Offset;
        var n = ReadIndex();
        if (n > Remaining) throw new ComponentLoadException($"malformed component: vector length {n} exceeds the remaining {Remaining} bytes (in {Section} section at byte offset 0x{at:x})");
        return n;
    }

    public ReadOnlyMemory<byte> ReadBytes(int length)
    {
        if (length < 0 || length > Remaining) throw Error($"length {length} runs past the end of the section");
        var slice = _data.Slice(_pos, length);
        _pos += length;
        return slice;
    }

    public void Skip(int length) => ReadBytes(length);

    public string ReadName()
    {
        var len = ReadIndex();
        var at = Offset;
        var bytes = ReadBytes(len);
        try { return StrictUtf8.GetString(bytes.Span); }
        catch (DecoderFallbackException) { throw new ComponentLoadException($"malformed component: name is not valid UTF-8 (in {Section} section at byte offset 0x{at:x})"); }
    }

    /// <summary>A cursor over the next <paramref name="length"/> bytes, for a nested section or component.</summary>
    public BinaryCursor Sub(int length, string section)
    {
        var start = Offset;
        return new BinaryCursor(ReadBytes(length), start, section);
    }
}
