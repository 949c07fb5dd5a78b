using System.IO.Pipelines;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Preview2.Filesystem;

/// <summary>A directory the host gives a component, read-only, at <see cref="GuestPath"/> (what <c>get-directories</c> lists).</summary>
/// <param name="HostPath">The directory on the host.</param>
/// <param name="GuestPath">The name the guest sees (for example <c>/</c>).</param>
public sealed record WasiPreopen(string HostPath, string GuestPath);

/// <summary>A <c>wasi:filesystem</c> error (the <c>error-code</c> case name).</summary>
public sealed class FilesystemException(string code, string message) : Exception(message)
{
    /// <summary>The <c>error-code</c> case name (<c>no-entry</c>, <c>not-permitted</c>...).</summary>
    public string Code { get; } = code;
}

/// <summary>
/// A <c>wasi:filesystem/types.descriptor</c>: a file or directory inside a read-only preopen. Every path a guest
/// gives is resolved inside the preopen's root; <c>..</c>, absolute paths and symlinks that lead outside are refused.
/// </summary>
public sealed class Descriptor
{
    private Descriptor(string root, string fullPath, bool isDirectory)
    {
        Root = root;
        FullPath = fullPath;
        IsDirectory = isDirectory;
    }

    /// <summary>The preopen's root directory (absolute, no trailing separator).</summary>
    public string Root { get; }

    /// <summary>The host path of this file or directory.</summary>
    public string FullPath { get; }

    /// <summary>True for a directory.</summary>
    public bool IsDirectory { get; }

    /// <summary>The descriptor of a preopened directory.</summary>
    public static Descriptor OpenRoot(string hostPath)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(hostPath));
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"preopened directory '{hostPath}' does not exist");
        return new Descriptor(root, root, isDirectory: true);
    }

    /// <summary><c>open-at</c> for reading: resolves <paramref name="path"/> relative to this directory.</summary>
    public Descriptor OpenAt(string path, bool mustBeDirectory, bool wantsWrite)
    {
        var full = Resolve(path);
        var isDir = Directory.Exists(full);
        if (!isDir && !File.Exists(full))
            throw new FilesystemException(wantsWrite ? "not-permitted" : "no-entry", $"'{path}' does not exist");
        if (wantsWrite)
            throw new FilesystemException("not-permitted", "the file system is read-only");
        if (mustBeDirectory && !isDir)
            throw new FilesystemException("not-directory", $"'{path}' is not a directory");
        return new Descriptor(Root, full, isDir);
    }

    /// <summary>Resolves a guest path inside the root (following symlinks only while they stay inside).</summary>
    public string Resolve(string path)
    {
        if (!IsDirectory)
            throw new FilesystemException("not-directory", "not a directory");
        if (path.Length == 0 || path.Contains('\0'))
            throw new FilesystemException(path.Length == 0 ? "no-entry" : "invalid", "invalid path");
        if (path.StartsWith('/') || Path.IsPathRooted(path))
            throw new FilesystemException("not-permitted", $"absolute path '{path}'");
        var full = Path.GetFullPath(Path.Combine(FullPath, path));
        if (!IsInside(full))
            throw new FilesystemException("not-permitted", $"'{path}' leaves the preopened directory");
        // A symlink anywhere on the way could point outside: check the final target.
        var info = new FileInfo(full);
        if (info.Exists || Directory.Exists(full))
        {
            var target = (Directory.Exists(full) ? (FileSystemInfo)new DirectoryInfo(full) : info).ResolveLinkTarget(returnFinalTarget: true);
            if (target is not null && !IsInside(Path.GetFullPath(target.FullName)))
                throw new FilesystemException("not-permitted", $"'{path}' links outside the preopened directory");
        }
        return full;
    }

    private bool IsInside(string full) =>
        full == Root || full.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary><c>read-via-stream</c>.</summary>
    public InputStream ReadViaStream(ulong offset)
    {
        RequireFile();
        var stream = new FileStream(FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        stream.Position = (long)Math.Min(offset, (ulong)long.MaxValue);
        return new PipeInputStream(PipeReader.Create(stream));
    }

    /// <summary><c>read</c>: up to <paramref name="length"/> bytes at <paramref name="offset"/>, and whether the end was reached.</summary>
    public (byte[] Data, bool End) Read(int length, ulong offset)
    {
        RequireFile();
        using var handle = File.OpenHandle(FullPath);
        var size = RandomAccess.GetLength(handle);
        if ((long)Math.Min(offset, long.MaxValue) >= size)
            return ([], true);
        var buffer = new byte[(int)Math.Min(length, size - (long)offset)];
        var n = RandomAccess.Read(handle, buffer, (long)offset);
        return (buffer.AsSpan(0, n).ToArray(), (long)offset + n >= size);
    }

    /// <summary>Entries of this directory (name and whether each is a directory, file or link).</summary>
    public IEnumerable<(string Name, FileSystemInfo Info)> List()
    {
        if (!IsDirectory)
            throw new FilesystemException("not-directory", "not a directory");
        return new DirectoryInfo(FullPath).EnumerateFileSystemInfos().Select(i => (i.Name, i));
    }

    /// <summary>The file system facts of this file or directory (or of <paramref name="path"/> under it).</summary>
    public FileSystemInfo Stat(string? path = null)
    {
        var full = path is null ? FullPath : Resolve(path);
        if (Directory.Exists(full))
            return new DirectoryInfo(full);
        if (File.Exists(full))
            return new FileInfo(full);
        throw new FilesystemException("no-entry", $"'{path}' does not exist");
    }

    private void RequireFile()
    {
        if (IsDirectory)
            throw new FilesystemException("is-directory", "is a directory");
    }
}

/// <summary>A <c>directory-entry-stream</c>: the entries of a directory, one at a time.</summary>
public sealed class DirectoryEntryStream(IEnumerable<(string Name, FileSystemInfo Info)> entries) : IDisposable
{
    private readonly IEnumerator<(string Name, FileSystemInfo Info)> _entries = entries.GetEnumerator();

    /// <summary>The next entry, or null at the end.</summary>
    public (string Name, FileSystemInfo Info)? Next() => _entries.MoveNext() ? _entries.Current : null;

    /// <summary>Releases the enumeration.</summary>
    public void Dispose() => _entries.Dispose();
}
