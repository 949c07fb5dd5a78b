namespace Spindle.Components;

/// <summary>
/// A component call failed: the guest trapped, or a canonical ABI check failed (bad pointer, invalid UTF-8,
/// invalid char, bad resource handle, borrow not released...). The store is poisoned; throw it away.
/// </summary>
public sealed class ComponentTrapException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ComponentTrapException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the underlying failure.</summary>
    public ComponentTrapException(string message, Exception? inner) : base(message, inner) { }
}
