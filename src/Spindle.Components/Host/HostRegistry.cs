namespace Spindle.Components.Host;

/// <summary>
/// The host interfaces available to components. An import such as <c>wasi:io/streams@0.2.3</c> resolves to the
/// registered interface of the same name whose version is semver-compatible: same major, and for 0.x the same
/// minor (so 0.2.3 is served by 0.2.6 and 0.2.10 by 0.2.6; any patch, either direction).
/// </summary>
public sealed class HostRegistry
{
    private readonly Dictionary<string, List<HostInterface>> _byName = new(StringComparer.Ordinal);

    /// <summary>All registered interfaces.</summary>
    public IEnumerable<HostInterface> Interfaces => _byName.Values.SelectMany(l => l);

    /// <summary>Registers an interface. Two compatible versions of the same interface cannot both be registered.</summary>
    public HostRegistry Add(HostInterface iface)
    {
        ArgumentNullException.ThrowIfNull(iface);
        if (!_byName.TryGetValue(iface.Name, out var list)) _byName[iface.Name] = list = [];
        foreach (var existing in list)
            if (Compatible(existing.Version, iface.Version))
                throw new InvalidOperationException($"host interface {iface} conflicts with the already registered {existing}");
        list.Add(iface);
        return this;
    }

    /// <summary>
    /// Finds the interface serving an import name (<c>wasi:io/streams@0.2.3</c>), or null. An unversioned name
    /// (<c>fermyon:spin/key-value</c>, Spin's first-generation interfaces) resolves only to an interface registered
    /// without a version (<see cref="HostInterface.Version"/> ""): the versioned interfaces of the same name have
    /// other types.
    /// </summary>
    public HostInterface? Resolve(string importName)
    {
        var (name, version) = SplitName(importName);
        if (!_byName.TryGetValue(name, out var list)) return null;
        foreach (var iface in list)
            if (version is null ? iface.Version.Length == 0 : Compatible(iface.Version, version))
                return iface;
        return null;
    }

    /// <summary>Splits <c>ns:pkg/iface@1.2.3</c> into the name and the version (null when absent).</summary>
    public static (string Name, string? Version) SplitName(string name)
    {
        var at = name.IndexOf('@');
        return at < 0 ? (name, null) : (name[..at], name[(at + 1)..]);
    }

    /// <summary>
    /// Semver compatibility as the component model's import matching uses it: versions with a pre-release or
    /// build suffix must match exactly; otherwise the same major (≥ 1), or for major 0 the same minor
    /// (or, for 0.0.x, the same patch).
    /// </summary>
    public static bool Compatible(string a, string b)
    {
        if (a == b) return true;
        if (!TryParse(a, out var ma, out var na, out var pa) || !TryParse(b, out var mb, out var nb, out var pb)) return false;
        if (ma != mb) return false;
        if (ma > 0) return true;
        if (na != nb) return false;
        return na > 0 || pa == pb;
    }

    private static bool TryParse(string v, out int major, out int minor, out int patch)
    {
        major = minor = patch = 0;
        var parts = v.Split('.');
        return parts.Length == 3 && int.TryParse(parts[0], out major) && int.TryParse(parts[1], out minor) && int.TryParse(parts[2], out patch);
    }
}
