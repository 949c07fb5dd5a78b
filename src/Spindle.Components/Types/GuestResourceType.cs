namespace Spindle.Components.Types;

/// <summary>
/// A resource type defined inside a component (<c>(type (resource (rep i32)))</c>). Its representation is an i32
/// chosen by the guest; each instantiation of the defining component makes the type distinct at run time, but the
/// plan (and so type identity) is shared per component definition.
/// </summary>
public sealed class GuestResourceType(string name, int definitionOffset) : ResourceType(name)
{
    /// <summary>Byte offset of the defining type in the component binary (for messages).</summary>
    public int DefinitionOffset { get; } = definitionOffset;
}

/// <summary>
/// A resource type imported by a component that no host interface binds (only possible for imports of nested
/// components, or instance types not yet matched). Identity is by reference.
/// </summary>
public sealed class AbstractResourceType(string name) : ResourceType(name);
