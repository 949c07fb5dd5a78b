using Microsoft.Win32.SafeHandles;

namespace Spindle.Wasi.Preview1;

/// <summary>What a guest file descriptor refers to.</summary>
internal abstract class WasiFd;

/// <summary>fd 0/1/2.</summary>
internal sealed class StdioFd(int number) : WasiFd
{
    public int Number { get; } = number;
}

/// <summary>A directory inside a mount (the mount root itself when <see cref="PreopenName"/> is set).</summary>
internal sealed class DirectoryFd(string mountRoot, string hostPath, string? preopenName) : WasiFd
{
    /// <summary>The mount's real (symlink-free) root: nothing outside it is reachable.</summary>
    public string MountRoot { get; } = mountRoot;

    /// <summary>This directory on the host.</summary>
    public string HostPath { get; } = hostPath;

    /// <summary>The guest path of a preopen (for fd_prestat_*), null for directories opened later.</summary>
    public string? PreopenName { get; } = preopenName;
}

/// <summary>A regular file opened read-only.</summary>
internal sealed class FileFd(SafeFileHandle handle, string hostPath) : WasiFd, IDisposable
{
    public SafeFileHandle Handle { get; } = handle;
    public string HostPath { get; } = hostPath;
    public long Position { get; set; }
    public void Dispose() => Handle.Dispose();
}

/// <summary>The descriptor table of one guest instance; descriptors are handed out lowest-free first.</summary>
internal sealed class WasiFdTable : IDisposable
{
    private const int MaxOpen = 1024;
    private readonly List<WasiFd?> _fds = [];

    public int Add(WasiFd fd)
    {
        for (var i = 0; i < _fds.Count; i++)
            if (_fds[i] is null) { _fds[i] = fd; return i; }
        if (_fds.Count >= MaxOpen) throw new WasiErrnoException(WasiErrno.MFile);
        _fds.Add(fd);
        return _fds.Count - 1;
    }

    /// <summary>The entry for a guest descriptor, or <see cref="WasiErrno.BadF"/>.</summary>
    public WasiFd Get(uint fd) =>
        fd < (uint)_fds.Count && _fds[(int)fd] is { } entry ? entry : throw new WasiErrnoException(WasiErrno.BadF);

    public T Get<T>(uint fd, WasiErrno wrongKind) where T : WasiFd => Get(fd) as T ?? throw new WasiErrnoException(wrongKind);

    public void Close(uint fd)
    {
        var entry = Get(fd);
        if (entry is DirectoryFd { PreopenName: not null })
            throw new WasiErrnoException(WasiErrno.NotSup); // keep preopens: libc resolves every path through them
        (entry as IDisposable)?.Dispose();
        _fds[(int)fd] = null;
    }

    public void Dispose()
    {
        foreach (var fd in _fds) (fd as IDisposable)?.Dispose();
        _fds.Clear();
    }
}
