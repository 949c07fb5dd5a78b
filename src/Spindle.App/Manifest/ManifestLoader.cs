using Spindle.App.Files;
using Spindle.App.Model;
using Spindle.App.Variables;
using Tomlyn.Serialization;

namespace Spindle.App.Manifest;

/// <summary>
/// Reads <c>spin.toml</c> (v2, or v1 converted as Spin converts it) into a <see cref="SpinApp"/>.
/// Every problem is a <see cref="ManifestException"/> naming file, key path, value and position; nothing is
/// returned half-loaded.
/// </summary>
public static class ManifestLoader
{
    /// <summary>
    /// Loads the manifest at <paramref name="path"/>: a file, or a folder holding <c>spin.toml</c>.
    /// Steps: 1. read and parse TOML; 2. detect the version (v1 is rewritten to the v2 layout);
    /// 3. map application, variables, components, triggers, checking unknown keys and cross references;
    /// 4. check each component's source file is readable and resolve its file mounts.
    /// </summary>
    public static SpinApp Load(string path, ManifestLoadOptions? options = null)
    {
        options ??= new ManifestLoadOptions();
        var file = Path.GetFullPath(Directory.Exists(path) ? Path.Combine(path, "spin.toml") : path);
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ManifestException(file, null, null, null, $"cannot read manifest: {e.Message}", e);
        }
        return Parse(text, file, options);
    }

    /// <summary>Parses manifest text as if read from <paramref name="file"/> (relative paths resolve beside it).</summary>
    public static SpinApp Parse(string text, string file, ManifestLoadOptions? options = null)
    {
        options ??= new ManifestLoadOptions();
        // Not TomlSerializer.Deserialize<TomlTable>: it loses [[trigger.http]] entries when the array is reopened
        // after another table, the layout `spin add` writes (see TomlDocument).
        var store = new TomlMetadataStore();
        var table = TomlDocument.Parse(text, file, store);

        var mf = new ManifestFile(file, store);
        var root = new TomlNode(mf, table, "");
        var version = DetectVersion(root);
        if (version == 1)
            root = new TomlNode(mf, V1Converter.ToV2(root), "");
        return new V2Reader(root, mf, file, version, options).Read();
    }

    private static int DetectVersion(TomlNode root)
    {
        var v = root.Raw("spin_manifest_version");
        if (v is null && root.Raw("spin_version") is string legacy)
            return legacy == "1" ? 1 : throw root.Error("spin_version", "unsupported manifest version (expected \"1\")", legacy);
        return v switch
        {
            long l when l == 2 => 2,
            string s when s == "1" => 1,
            null => throw root.Error("spin_manifest_version", "missing required key (spin_manifest_version = 2)"),
            _ => throw root.Error("spin_manifest_version", "unsupported manifest version (expected 2, or \"1\")", v),
        };
    }
}
