using Microsoft.Extensions.FileSystemGlobbing;
using Microsoft.Extensions.FileSystemGlobbing.Abstractions;
using Spindle.App.Manifest;
using Spindle.App.Model;
using Tomlyn.Model;

namespace Spindle.App.Files;

/// <summary>
/// Turns a component's <c>files</c> / <c>exclude_files</c> into (host path, guest path) pairs:
/// glob strings match files under the application folder and mount each at <c>/&lt;relative path&gt;</c>;
/// <c>{ source, destination }</c> mounts a file or a whole folder at <c>destination</c>.
/// Exclusions apply to both; a folder with excluded files inside is mounted file by file.
/// </summary>
internal static class FileMountResolver
{
    public static IReadOnlyList<FileMount> Resolve(TomlNode component, string appDir)
    {
        var entries = component.OptArray("files") ?? [];
        var excludes = component.OptStringList("exclude_files") ?? [];
        var mounts = new List<FileMount>();
        var root = Path.GetFullPath(appDir);

        for (var i = 0; i < entries.Count; i++)
        {
            switch (entries[i])
            {
                case string pattern:
                    mounts.AddRange(ResolvePattern(component, root, pattern, excludes, i));
                    break;
                case TomlTable t:
                    var placement = component.Child(t, $"{component.KeyPath("files")}[{i}]");
                    placement.DenyUnknownKeys("source", "destination");
                    mounts.AddRange(ResolvePlacement(placement, root, excludes));
                    break;
                default:
                    throw component.Error("files", $"element {i} must be a glob string or {{ source, destination }}", entries[i]);
            }
        }
        return mounts;
    }

    private static IEnumerable<FileMount> ResolvePattern(TomlNode component, string root, string pattern, IReadOnlyList<string> excludes, int index)
    {
        if (Path.IsPathRooted(pattern) || pattern.Split('/', '\\').Contains(".."))
            throw component.Error("files", $"element {index}: pattern must stay inside the application folder", pattern);
        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddInclude(pattern);
        matcher.AddExcludePatterns(excludes);
        var result = matcher.Execute(new DirectoryInfoWrapper(new DirectoryInfo(root)));
        var isLiteral = pattern.IndexOfAny(['*', '?', '[', '{']) < 0;
        if (isLiteral && !File.Exists(Path.Combine(root, pattern)) && !Directory.Exists(Path.Combine(root, pattern)))
            throw component.Error("files", $"element {index}: no such file '{Path.Combine(root, pattern)}'", pattern);
        if (isLiteral && Directory.Exists(Path.Combine(root, pattern)))
            return ExpandDirectory(Path.Combine(root, pattern), "/" + pattern.Trim('/'), root, excludes);
        return result.Files.Select(f => new FileMount(
            Path.GetFullPath(Path.Combine(root, f.Path)), "/" + f.Path.Replace('\\', '/'), IsDirectory: false));
    }

    private static IEnumerable<FileMount> ResolvePlacement(TomlNode placement, string root, IReadOnlyList<string> excludes)
    {
        var source = placement.String("source");
        var destination = placement.String("destination");
        if (!destination.StartsWith('/'))
            throw placement.Error("destination", "must be an absolute guest path (starting with '/')", destination);
        var host = Path.GetFullPath(Path.Combine(root, source));
        if (File.Exists(host))
            return [new FileMount(host, destination, IsDirectory: false)];
        if (!Directory.Exists(host))
            throw placement.Error("source", $"no such file or folder '{host}'", source);
        return ExpandDirectory(host, destination, root, excludes);
    }

    /// <summary>Mounts the folder whole unless an exclusion hits a file inside it.</summary>
    private static IEnumerable<FileMount> ExpandDirectory(string hostDir, string guestDir, string root, IReadOnlyList<string> excludes)
    {
        if (excludes.Count == 0)
            return [new FileMount(hostDir, guestDir, IsDirectory: true)];
        var all = new Matcher(StringComparison.Ordinal);
        all.AddInclude("**/*");
        var kept = new Matcher(StringComparison.Ordinal);
        kept.AddInclude("**/*");
        // Exclusions are written relative to the application folder.
        var relDir = Path.GetRelativePath(root, hostDir).Replace('\\', '/');
        foreach (var ex in excludes)
            kept.AddExclude(relDir == "." ? ex : ex.StartsWith(relDir + "/", StringComparison.Ordinal) ? ex[(relDir.Length + 1)..] : "/" + ex);
        var dir = new DirectoryInfoWrapper(new DirectoryInfo(hostDir));
        var allFiles = all.Execute(dir).Files.ToList();
        var keptFiles = kept.Execute(dir).Files.ToList();
        if (allFiles.Count == keptFiles.Count)
            return [new FileMount(hostDir, guestDir, IsDirectory: true)];
        var guestRoot = guestDir.TrimEnd('/');
        return keptFiles.Select(f => new FileMount(
            Path.GetFullPath(Path.Combine(hostDir, f.Path)), guestRoot + "/" + f.Path.Replace('\\', '/'), IsDirectory: false));
    }
}
