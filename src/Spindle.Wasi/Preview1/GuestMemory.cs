using System.Buffers.Binary;

namespace Spindle.Wasi.Preview1;

/// <summary>
/// Bounds-checked view of a guest's linear memory for one host call. Every guest (pointer, length) is checked
/// against the span; a bad one raises <see cref="WasiErrno.Fault"/>. Pointers are wasm32 <c>u32</c>s.
/// </summary>
internal readonly ref struct GuestMemory(Span<byte> memory)
{
    private readonly Span<byte> _memory = memory;

    public int Length => _memory.Length;

    public Span<byte> Slice(uint ptr, uint len)
    {
        if ((ulong)ptr + len > (ulong)_memory.Length)
            throw new WasiErrnoException(WasiErrno.Fault);
        return _memory.Slice((int)ptr, (int)len);
    }

    public uint ReadU32(uint ptr) => BinaryPrimitives.ReadUInt32LittleEndian(Slice(ptr, 4));
    public ulong ReadU64(uint ptr) => BinaryPrimitives.ReadUInt64LittleEndian(Slice(ptr, 8));
    public ushort ReadU16(uint ptr) => BinaryPrimitives.ReadUInt16LittleEndian(Slice(ptr, 2));
    public byte ReadU8(uint ptr) => Slice(ptr, 1)[0];

    public void WriteU8(uint ptr, byte value) => Slice(ptr, 1)[0] = value;
    public void WriteU16(uint ptr, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Slice(ptr, 2), value);
    public void WriteU32(uint ptr, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Slice(ptr, 4), value);
    public void WriteU64(uint ptr, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Slice(ptr, 8), value);

    /// <summary>Reads an array of <c>iovec</c>/<c>ciovec</c> ({ptr u32, len u32}) and checks each buffer.</summary>
    public IoVec[] ReadIoVecs(uint iovs, uint count)
    {
        if (count > 1024) // IOV_MAX; also bounds the allocation below
            throw new WasiErrnoException(WasiErrno.Inval);
        var table = Slice(iovs, checked(count * 8));
        var result = new IoVec[count];
        for (var i = 0; i < count; i++)
        {
            var ptr = BinaryPrimitives.ReadUInt32LittleEndian(table.Slice(i * 8));
            var len = BinaryPrimitives.ReadUInt32LittleEndian(table.Slice(i * 8 + 4));
            Slice(ptr, len); // validate now so a bad vector fails before any side effect
            result[i] = new IoVec(ptr, len);
        }
        return result;
    }

    /// <summary>Reads a UTF-8 path argument.</summary>
    public string ReadString(uint ptr, uint len)
    {
        if (len > 4096)
            throw new WasiErrnoException(WasiErrno.NameTooLong);
        var bytes = Slice(ptr, len);
        try
        {
            return new System.Text.UTF8Encoding(false, true).GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new WasiErrnoException(WasiErrno.IlSeq);
        }
    }
}

/// <summary>One guest I/O vector, already bounds-checked.</summary>
internal readonly record struct IoVec(uint Ptr, uint Len);
