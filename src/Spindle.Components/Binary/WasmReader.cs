namespace Spindle.Components.Binary;

/// <summary>
/// A forward reader over core wasm bytes that knows instruction encodings well enough to step over every
/// instruction of wasm 2.0 plus tail calls, typed function references, multi-memory and relaxed SIMD, and to
/// report the ones that change tables or segments (see <see cref="ResettableModule"/>). Reading past the end,
/// or meeting an instruction it does not know, throws <see cref="FormatException"/>.
/// </summary>
internal ref struct WasmReader(ReadOnlySpan<byte> data, int position)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos = position;

    public readonly int Position => _pos;
    public readonly bool AtEnd => _pos >= _data.Length;

    public byte Byte() => _pos < _data.Length ? _data[_pos++] : throw new FormatException($"unexpected end of data at byte {_pos}");

    public void Skip(int n)
    {
        if (n < 0 || n > _data.Length - _pos) throw new FormatException($"a length of {n} at byte {_pos} runs past the end");
        _pos += n;
    }

    public uint U32()
    {
        uint result = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            var b = Byte();
            result |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new FormatException($"a u32 at byte {_pos} is too long");
    }

    /// <summary>A u32 length or size that must fit in what is left to read.</summary>
    public int Length()
    {
        var n = U32();
        return n <= (uint)(_data.Length - _pos) ? (int)n : throw new FormatException($"a length of {n} at byte {_pos} runs past the end");
    }

    /// <summary>Steps over a LEB128 number of any width (signed or unsigned, up to 64 bits).</summary>
    public void Leb()
    {
        for (var i = 0; i < 10; i++)
            if ((Byte() & 0x80) == 0) return;
        throw new FormatException($"a number at byte {_pos} is too long");
    }

    /// <summary>Limits; returns the flags byte (bit 0: has maximum, bit 1: shared, bit 2: 64-bit).</summary>
    public byte Limits()
    {
        var flags = Byte();
        if (flags > 0x07) throw new FormatException($"unknown limits flags 0x{flags:x2}");
        Leb();
        if ((flags & 1) != 0) Leb();
        return flags;
    }

    public void ValType()
    {
        var b = Byte();
        if (b is 0x63 or 0x64) Leb(); // (ref null? heaptype)
        else if (b is < 0x69 or > 0x7F) throw new FormatException($"unknown value type 0x{b:x2}");
    }

    public void RefType() => ValType();

    private void BlockType()
    {
        var b = Byte();
        if (b is 0x63 or 0x64) { Leb(); return; }
        if ((b & 0x80) != 0) Leb(); // a multi-byte type index (its first byte was consumed above)
    }

    private void MemArg()
    {
        var align = U32();
        if ((align & 0x40) != 0) U32(); // multi-memory: a memory index follows
        Leb();
    }

    /// <summary>A constant expression (global initialiser): instructions up to its <c>end</c>.</summary>
    public void ConstExpr()
    {
        while (true)
        {
            var op = Byte();
            if (op == 0x0B) return;
            if (Instruction(op) is { } blocker) throw new FormatException($"constant expression uses {blocker}");
        }
    }

    /// <summary>Steps over a function body (this reader must end where it does); returns why it blocks a reset, or null.</summary>
    public string? FunctionBody()
    {
        for (var groups = U32(); groups > 0; groups--)
        {
            U32();
            ValType();
        }
        var last = (byte)0;
        while (!AtEnd)
        {
            last = Byte();
            if (Instruction(last) is { } blocker) return blocker;
        }
        return last == 0x0B ? null : throw new FormatException($"a function body does not end with 'end' (byte {_pos})");
    }

    /// <summary>Steps over the immediates of <paramref name="op"/>; returns what it is when it may change tables or segments.</summary>
    private string? Instruction(byte op)
    {
        switch (op)
        {
            case 0x00 or 0x01 or 0x05 or 0x0B or 0x0F or 0x1A or 0x1B or 0xD1 or 0xD3 or 0xD4:
            case >= 0x45 and <= 0xC4:
                return null;
            case 0x02 or 0x03 or 0x04: BlockType(); return null;
            case 0x0C or 0x0D or 0x10 or 0x12 or 0x14 or 0x15 or 0xD2 or 0xD5 or 0xD6: U32(); return null;
            case 0x0E:
                for (var n = U32(); n > 0; n--) U32();
                U32();
                return null;
            case 0x11 or 0x13: U32(); U32(); return null;
            case 0x1C:
                for (var n = U32(); n > 0; n--) ValType();
                return null;
            case >= 0x20 and <= 0x25: U32(); return null; // locals, globals (restored by the host), table.get
            case 0x26: return "table.set";
            case >= 0x28 and <= 0x3E: MemArg(); return null;
            case 0x3F or 0x40: U32(); return null; // memory.size/grow (a grown memory is detected after the call)
            case 0x41 or 0x42: Leb(); return null;
            case 0x43: Skip(4); return null;
            case 0x44: Skip(8); return null;
            case 0xD0: Leb(); return null; // ref.null heaptype
            case 0xFC: return Misc(U32());
            case 0xFD: Simd(U32()); return null;
            case 0xFB: return "a GC instruction";
            case 0xFE: return "an atomic instruction";
            case 0x06 or 0x07 or 0x08 or 0x09 or 0x0A or 0x18 or 0x19 or 0x1F: return "an exception-handling instruction";
            default: throw new FormatException($"unknown instruction 0x{op:x2} at byte {_pos - 1}");
        }
    }

    private string? Misc(uint op)
    {
        switch (op)
        {
            case <= 7: return null; // saturating truncations
            case 8: U32(); U32(); return null; // memory.init reads its segment; only data.drop changes it
            case 9: return "data.drop";
            case 10: U32(); U32(); return null;
            case 11: U32(); return null;
            case 12: return "table.init";
            case 13: return "elem.drop";
            case 14: return "table.copy";
            case 15: return "table.grow";
            case 16: U32(); return null;
            case 17: return "table.fill";
            default: throw new FormatException($"unknown instruction 0xfc {op}");
        }
    }

    private void Simd(uint op)
    {
        switch (op)
        {
            case <= 11 or 92 or 93: MemArg(); break;
            case 12 or 13: Skip(16); break;
            case >= 21 and <= 34: Byte(); break;
            case >= 84 and <= 91: MemArg(); Byte(); break;
            case <= 0x113: break; // every other SIMD and relaxed SIMD instruction has no immediate
            default: throw new FormatException($"unknown instruction 0xfd {op}");
        }
    }
}
