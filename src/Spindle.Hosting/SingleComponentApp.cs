using Spindle.App.Manifest;
using Spindle.App.Model;

namespace Spindle.Hosting;

/// <summary><c>spindle serve x.wasm</c>: an application of one component on route <c>/...</c>.</summary>
internal static class SingleComponentApp
{
    public static SpinApp Create(string componentPath, ManifestLoadOptions options)
    {
        var full = Path.GetFullPath(componentPath);
        var name = new string(Path.GetFileNameWithoutExtension(full).ToLowerInvariant()
            .Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        var id = name.Length > 0 && char.IsAsciiLetter(name[0]) && !name.Contains("--") ? name : "component";
        var toml = $"""
            spin_manifest_version = 2
            [application]
            name = "{id}"
            [[trigger.http]]
            route = "/..."
            component = "{id}"
            [component.{id}]
            source = '{full}'
            """;
        return ManifestLoader.Parse(toml, full + " (spindle serve)", options);
    }
}
