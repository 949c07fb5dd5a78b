namespace Spindle.Components;

/// <summary>
/// A component could not be loaded: it is not a component, a section is malformed, an import is missing or has
/// the wrong type, or it uses a feature Spindle does not support. The message names the section, byte offset,
/// interface or function concerned.
/// </summary>
public sealed class ComponentLoadException : Exception
{
    /// <summary>Creates the exception with a message that names what is wrong and where.</summary>
    public ComponentLoadException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the underlying failure.</summary>
    public ComponentLoadException(string message, Exception inner) : base(message, inner) { }
}
