namespace Spindle.App.Manifest;

/// <summary>Inputs to <see cref="ManifestLoader"/> that do not come from the manifest.</summary>
public sealed class ManifestLoadOptions
{
    /// <summary><c>-e KEY=VALUE</c>: added to every component's environment, overriding manifest keys.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> EnvironmentOverrides { get; init; } = [];
}
