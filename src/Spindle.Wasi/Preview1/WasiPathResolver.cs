namespace Spindle.Wasi.Preview1;

/// <summary>
/// Maps a guest path, relative to a directory descriptor, to a host path that cannot leave the mount: <c>..</c>
/// is resolved lexically and may not climb above the mount root, absolute paths are refused, and every symlink on
/// the way must point inside the mount (else <see cref="WasiErrno.NotCapable"/>).
/// </summary>
internal static class WasiPathResolver
{
    private const int MaxLinks = 32;

    public static string Resolve(DirectoryFd dir, string guestPath, bool followFinalLink)
    {
        if (guestPath.Length == 0) throw new WasiErrnoException(WasiErrno.NoEnt);
        if (guestPath[0] == '/' || guestPath.Contains('\0')) throw new WasiErrnoException(WasiErrno.NotCapable);

        // Start from the directory's position inside the mount, expressed as segments below the root.
        var relative = Path.GetRelativePath(dir.MountRoot, dir.HostPath);
        var stack = new List<string>();
        if (relative != ".")
            stack.AddRange(relative.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries));

        foreach (var segment in guestPath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment == ".") continue;
            if (segment == "..")
            {
                if (stack.Count == 0) throw new WasiErrnoException(WasiErrno.NotCapable);
                stack.RemoveAt(stack.Count - 1);
                continue;
            }
            stack.Add(segment);
        }

        // Walk the segments on the host, checking symlink targets against the root.
        var current = dir.MountRoot;
        var links = 0;
        for (var i = 0; i < stack.Count; i++)
        {
            var next = Path.Combine(current, stack[i]);
            var isLast = i == stack.Count - 1;
            if (!isLast || followFinalLink)
            {
                FileSystemInfo info = new FileInfo(next);
                if (info.LinkTarget is not null)
                {
                    if (++links > MaxLinks) throw new WasiErrnoException(WasiErrno.Loop);
                    var target = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName
                                 ?? throw new WasiErrnoException(WasiErrno.NoEnt);
                    if (!IsInside(dir.MountRoot, target)) throw new WasiErrnoException(WasiErrno.NotCapable);
                    next = target;
                }
            }
            current = next;
        }
        return current;
    }

    public static bool IsInside(string root, string path)
    {
        var full = Path.GetFullPath(path);
        if (string.Equals(full, root, StringComparison.Ordinal)) return true;
        var prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return full.StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>The real path of a mount root (symlinks in the root itself are trusted: the operator chose it).</summary>
    public static string RealRoot(string hostPath)
    {
        var full = Path.GetFullPath(hostPath);
        var info = new DirectoryInfo(full);
        if (!info.Exists) throw new DirectoryNotFoundException($"Mounted directory '{hostPath}' does not exist.");
        var target = info.LinkTarget is null ? null : info.ResolveLinkTarget(returnFinalTarget: true);
        return Path.TrimEndingDirectorySeparator(target?.FullName ?? full);
    }
}
