using System.Security.Cryptography;
using System.Text;
using Spindle.App.Model;

namespace Spindle.Trigger.Http.Executors;

/// <summary>
/// Turns a component's <c>files</c> into read-only directory mounts. Folder mounts are used in place; single
/// files (glob matches, <c>{ source, destination }</c> files) are copied into one staging folder mounted at
/// <c>/</c>, as Spin copies files into a temporary folder, so a guest sees exactly the listed files.
/// </summary>
public static class ComponentFiles
{
    /// <summary>Directory mounts (host folder, guest path) for the component; stages single files if needed.</summary>
    public static IReadOnlyList<FileMount> Stage(SpinApp app, AppComponent component)
    {
        if (component.Files.All(f => f.IsDirectory)) return component.Files;
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(app.ManifestPath + "\n" + component.Id)))[..16];
        var staging = Path.Combine(Path.GetTempPath(), "spindle-files", $"{component.Id}-{key}");
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        foreach (var mount in component.Files)
        {
            var target = Path.Combine(staging, mount.GuestPath.TrimStart('/'));
            if (mount.IsDirectory) CopyDirectory(mount.HostPath, target);
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(mount.HostPath, target, overwrite: true);
            }
        }
        return [new FileMount(staging, "/", IsDirectory: true)];
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}
