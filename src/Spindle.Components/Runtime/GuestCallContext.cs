using Spindle.Components.Abi;
using Spindle.Components.Binary;
using Spindle.Wasmtime;

namespace Spindle.Components.Runtime;

/// <summary>
/// The <see cref="AbiContext"/> of one call: the store, the memory and realloc named by the function's canon
/// options, resolved for this instance. Inside a host function realloc runs as a nested call on the guest's
/// fiber; when the host lowers export arguments (no fiber yet) it runs as an ordinary async call, which completes
/// synchronously unless realloc itself waits on an async host function.
/// Host imports reuse one context per component instance (<see cref="ComponentInstance.EnterLowered"/>): a
/// context is bound to a call and its options by <see cref="Begin"/> and freed by <see cref="End"/>.
/// </summary>
internal sealed class GuestCallContext : AbiContext
{
    private WasmMemory? _memory;
    private WasmFunc? _realloc;
    private string _what = "";

    private readonly ComponentInstance _instance;

    public GuestCallContext(ComponentInstance instance, HandleTable table)
    {
        _instance = instance;
        Table = table;
    }

    public StoreContext Store { get; set; }

    /// <summary>Set while lowering export arguments: realloc is called through the store's async entry point.</summary>
    public WasmStore? OffFiberStore { get; set; }

    /// <summary>Between <see cref="Begin"/> and <see cref="End"/>: a call (maybe suspended in an await) owns it.</summary>
    public bool InUse { get; private set; }

    /// <summary>Binds the context to a call; <paramref name="what"/> names the function in trap messages.</summary>
    public GuestCallContext Begin(StoreContext store, string what, WasmMemory? memory, WasmFunc? realloc, StringEncoding encoding)
    {
        InUse = true;
        Store = store;
        _what = what;
        _memory = memory;
        _realloc = realloc;
        Encoding = encoding;
        ResetCallState();
        return this;
    }

    /// <summary>Ends the call's borrow scope and frees the context for the next call.</summary>
    public void End()
    {
        ReleaseLends();
        OffFiberStore = null;
        InUse = false;
    }

    public override Span<byte> Memory() =>
        _memory is { } m ? m.GetSpan(Store) : throw Trap($"{_what} needs linear memory but its canon options name none");

    protected override int CallRealloc(int oldPtr, int oldSize, int align, int newSize)
    {
        if (_realloc is not { } f) throw Trap($"{_what} needs to allocate guest memory but its canon options name no realloc");
        if (OffFiberStore is { } store)
        {
            var pending = f.CallAsync(store, [WasmValue.I32(oldPtr), WasmValue.I32(oldSize), WasmValue.I32(align), WasmValue.I32(newSize)], 1);
            return (pending.IsCompleted ? pending.Result : pending.AsTask().GetAwaiter().GetResult())[0].AsI32();
        }
        Span<WasmValue> args = [WasmValue.I32(oldPtr), WasmValue.I32(oldSize), WasmValue.I32(align), WasmValue.I32(newSize)];
        Span<WasmValue> results = [WasmValue.I32(0)];
        _instance.CallNested(Store, f, args, results);
        return results[0].AsI32();
    }
}
