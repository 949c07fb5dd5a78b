namespace Spindle.App.Model;

/// <summary>
/// A loaded, validated Spin application: what <c>spin.toml</c> (v2, or v1 converted as Spin converts it) says,
/// with paths resolved against the manifest's folder. Immutable; the loader is the only producer.
/// </summary>
/// <param name="ManifestPath">Absolute path of the manifest file.</param>
/// <param name="ManifestVersion">1 when the file was a v1 manifest converted to v2, else 2.</param>
/// <param name="Name">Application name (<c>[application] name</c>).</param>
/// <param name="Version">Application version, if any.</param>
/// <param name="Description">Application description, if any.</param>
/// <param name="Authors">Application authors.</param>
/// <param name="HttpBase">The application base path (<c>[application.trigger.http] base</c>), <c>/</c> when absent.</param>
/// <param name="Variables">Application variables by name.</param>
/// <param name="HttpTriggers">HTTP triggers in manifest order.</param>
/// <param name="Components">Components by id.</param>
/// <param name="Warnings">Non-fatal findings (deprecated fields...), to be logged by the host.</param>
/// <param name="Locations">Where keys were written (key path to location), for errors raised after loading.</param>
public sealed record SpinApp(
    string ManifestPath,
    int ManifestVersion,
    string Name,
    string? Version,
    string? Description,
    IReadOnlyList<string> Authors,
    string HttpBase,
    IReadOnlyDictionary<string, VariableDeclaration> Variables,
    IReadOnlyList<HttpTrigger> HttpTriggers,
    IReadOnlyDictionary<string, AppComponent> Components,
    IReadOnlyList<string> Warnings,
    IReadOnlyDictionary<string, SourceLocation> Locations)
{
    /// <summary>The folder holding the manifest; relative paths in it are resolved against this.</summary>
    public string AppDirectory => Path.GetDirectoryName(ManifestPath)!;

    /// <summary>Where a key path (e.g. <c>component.web.allowed_outbound_hosts</c>) was written, if known.</summary>
    public SourceLocation? LocationOf(string keyPath) => Locations.TryGetValue(keyPath, out var l) ? l : null;
}

/// <summary>A 1-based line and column in the manifest.</summary>
public readonly record struct SourceLocation(int Line, int Column)
{
    /// <inheritdoc />
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>An application variable (<c>[variables] name = { default?, required?, secret? }</c>).</summary>
/// <param name="Name">Lower snake case name.</param>
/// <param name="Default">Default value; <c>null</c> when the variable is required.</param>
/// <param name="Required">Whether a provider must supply a value.</param>
/// <param name="Secret">Whether the value must never be logged.</param>
/// <param name="Description">Free text.</param>
public sealed record VariableDeclaration(string Name, string? Default, bool Required, bool Secret, string? Description);
