using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Spindle.Components.Abi;

/// <summary>
/// A <c>list&lt;u8&gt;</c> argument left in guest memory: a bounds-checked view handed to a synchronous host
/// function that declared it consumes the bytes before returning (<c>output-stream.write</c> copies them straight
/// into the response body, with no intermediate array). Valid only during that call: guest memory may grow or the
/// store end afterwards.
/// </summary>
internal sealed unsafe class GuestBytes : MemoryManager<byte>
{
    private readonly byte* _start;
    private readonly int _length;

    /// <param name="view">Already bounds-checked against the guest's memory.</param>
    public GuestBytes(Span<byte> view)
    {
        _start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(view));
        _length = view.Length;
    }

    public override Span<byte> GetSpan() => new(_start, _length);

    // Guest memory does not move during the call: nothing to pin.
    public override MemoryHandle Pin(int elementIndex = 0) => new(_start + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
