using System.Text;
using static Spindle.Wasi.Preview1.WasiAbi;

namespace Spindle.Wasi.Preview1;

/// <summary>Descriptors and the read-only mounted file system.</summary>
internal static partial class WasiPreview1Functions
{
    public static WasiErrno FdClose(WasiPreview1Context ctx, uint fd)
    {
        ctx.Fds.Close(fd);
        return WasiErrno.Success;
    }

    public static WasiErrno FdFdstatGet(WasiPreview1Context ctx, Span<byte> span, uint fd, uint resultPtr)
    {
        var memory = new GuestMemory(span);
        var (type, rights, inheriting) = ctx.Fds.Get(fd) switch
        {
            // Not character devices: libc would take them for ttys and line-buffer stdout.
            StdioFd { Number: 0 } => (FileTypeUnknown, StdinRights, 0UL),
            StdioFd => (FileTypeUnknown, StdoutRights, 0UL),
            DirectoryFd => (FileTypeDirectory, DirectoryRights, DirectoryRights | FileRights),
            FileFd => (FileTypeRegularFile, FileRights, 0UL),
            _ => throw new WasiErrnoException(WasiErrno.BadF),
        };
        var slot = memory.Slice(resultPtr, FdstatSize);
        slot.Clear();
        memory.WriteU8(resultPtr, type);
        memory.WriteU64(resultPtr + 8, rights);
        memory.WriteU64(resultPtr + 16, inheriting);
        return WasiErrno.Success;
    }

    public static WasiErrno FdFdstatSetFlags(WasiPreview1Context ctx, uint fd, uint flags)
    {
        var entry = ctx.Fds.Get(fd);
        if ((flags & (FdFlagAppend | FdFlagDsync | FdFlagSync)) != 0)
            return entry is StdioFd ? WasiErrno.Success : WasiErrno.RoFs;
        return WasiErrno.Success; // nonblock/rsync: reads never block a thread anyway
    }

    public static WasiErrno FdSeek(WasiPreview1Context ctx, Span<byte> span, uint fd, long offset, uint whence, uint resultPtr)
    {
        var memory = new GuestMemory(span);
        var file = ctx.Fds.Get(fd) switch
        {
            FileFd f => f,
            StdioFd => throw new WasiErrnoException(WasiErrno.SPipe),
            DirectoryFd => throw new WasiErrnoException(WasiErrno.IsDir),
            _ => throw new WasiErrnoException(WasiErrno.BadF),
        };
        memory.Slice(resultPtr, 8);
        long basePosition = whence switch
        {
            WhenceSet => 0,
            WhenceCur => file.Position,
            WhenceEnd => RandomAccess.GetLength(file.Handle),
            _ => throw new WasiErrnoException(WasiErrno.Inval),
        };
        long target;
        try { target = checked(basePosition + offset); }
        catch (OverflowException) { throw new WasiErrnoException(WasiErrno.Overflow); }
        if (target < 0) throw new WasiErrnoException(WasiErrno.Inval);
        file.Position = target;
        memory.WriteU64(resultPtr, (ulong)target);
        return WasiErrno.Success;
    }

    public static WasiErrno FdTell(WasiPreview1Context ctx, Span<byte> span, uint fd, uint resultPtr) =>
        FdSeek(ctx, span, fd, 0, WhenceCur, resultPtr);

    public static WasiErrno FdPread(WasiPreview1Context ctx, Span<byte> span, uint fd, uint iovs, uint count, long offset, uint readPtr)
    {
        var memory = new GuestMemory(span);
        var file = ctx.Fds.Get(fd) switch
        {
            FileFd f => f,
            StdioFd => throw new WasiErrnoException(WasiErrno.SPipe),
            DirectoryFd => throw new WasiErrnoException(WasiErrno.IsDir),
            _ => throw new WasiErrnoException(WasiErrno.BadF),
        };
        if (offset < 0) throw new WasiErrnoException(WasiErrno.Inval);
        memory.Slice(readPtr, 4);
        var total = ReadFile(file, memory, memory.ReadIoVecs(iovs, count), offset);
        memory.WriteU32(readPtr, (uint)total);
        return WasiErrno.Success;
    }

    public static WasiErrno FdPrestatGet(WasiPreview1Context ctx, Span<byte> span, uint fd, uint resultPtr)
    {
        var memory = new GuestMemory(span);
        if (ctx.Fds.Get(fd) is not DirectoryFd { PreopenName: { } name }) throw new WasiErrnoException(WasiErrno.BadF);
        memory.Slice(resultPtr, PrestatSize).Clear(); // tag 0 = directory
        memory.WriteU32(resultPtr + 4, (uint)Encoding.UTF8.GetByteCount(name));
        return WasiErrno.Success;
    }

    public static WasiErrno FdPrestatDirName(WasiPreview1Context ctx, Span<byte> span, uint fd, uint path, uint length)
    {
        var memory = new GuestMemory(span);
        if (ctx.Fds.Get(fd) is not DirectoryFd { PreopenName: { } name }) throw new WasiErrnoException(WasiErrno.BadF);
        var bytes = Encoding.UTF8.GetBytes(name);
        if (length < bytes.Length) throw new WasiErrnoException(WasiErrno.NameTooLong);
        bytes.CopyTo(memory.Slice(path, (uint)bytes.Length));
        return WasiErrno.Success;
    }

    public static WasiErrno FdFilestatGet(WasiPreview1Context ctx, Span<byte> span, uint fd, uint resultPtr)
    {
        var memory = new GuestMemory(span);
        switch (ctx.Fds.Get(fd))
        {
            case FileFd f: WriteFilestat(memory, resultPtr, new FileInfo(f.HostPath)); break;
            case DirectoryFd d: WriteFilestat(memory, resultPtr, new DirectoryInfo(d.HostPath)); break;
            default:
                memory.Slice(resultPtr, FilestatSize).Clear();
                memory.WriteU8(resultPtr + 16, FileTypeUnknown);
                memory.WriteU64(resultPtr + 24, 1);
                break;
        }
        return WasiErrno.Success;
    }

    public static WasiErrno PathFilestatGet(WasiPreview1Context ctx, Span<byte> span, uint fd, uint flags, uint path, uint length, uint resultPtr)
    {
        var memory = new GuestMemory(span);
        var dir = ctx.Fds.Get<DirectoryFd>(fd, WasiErrno.NotDir);
        var host = WasiPathResolver.Resolve(dir, memory.ReadString(path, length), (flags & LookupSymlinkFollow) != 0);
        FileSystemInfo info = Directory.Exists(host) ? new DirectoryInfo(host) : new FileInfo(host);
        if (!info.Exists && info.LinkTarget is null) throw new WasiErrnoException(WasiErrno.NoEnt);
        WriteFilestat(memory, resultPtr, info);
        return WasiErrno.Success;
    }

    private static void WriteFilestat(GuestMemory memory, uint ptr, FileSystemInfo info)
    {
        var slot = memory.Slice(ptr, FilestatSize);
        slot.Clear();
        memory.WriteU64(ptr + 8, Inode(info.FullName));
        memory.WriteU8(ptr + 16, FileType(info));
        memory.WriteU64(ptr + 24, 1);
        memory.WriteU64(ptr + 32, info is FileInfo { Exists: true } file && info.LinkTarget is null ? (ulong)file.Length : 0);
        memory.WriteU64(ptr + 40, Nanos(info.LastAccessTimeUtc));
        memory.WriteU64(ptr + 48, Nanos(info.LastWriteTimeUtc));
        memory.WriteU64(ptr + 56, Nanos(info.LastWriteTimeUtc));
    }

    private static byte FileType(FileSystemInfo info) =>
        info.LinkTarget is not null ? FileTypeSymbolicLink
        : info is DirectoryInfo || (info.Attributes & FileAttributes.Directory) != 0 ? FileTypeDirectory
        : FileTypeRegularFile;

    private static ulong Nanos(DateTime utc) => utc <= DateTime.UnixEpoch ? 0 : (ulong)(utc - DateTime.UnixEpoch).Ticks * 100;

    /// <summary>A stable stand-in for the inode (.NET exposes none): FNV-1a of the host path.</summary>
    private static ulong Inode(string path)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in path) { hash ^= c; hash *= 1099511628211UL; }
        return hash;
    }

    public static WasiErrno PathOpen(
        WasiPreview1Context ctx, Span<byte> span, uint fd, uint dirFlags, uint path, uint length,
        uint openFlags, ulong rightsBase, ulong rightsInheriting, uint fdFlags, uint resultPtr)
    {
        _ = rightsInheriting;
        var memory = new GuestMemory(span);
        var dir = ctx.Fds.Get<DirectoryFd>(fd, WasiErrno.NotDir);
        memory.Slice(resultPtr, 4);
        var guestPath = memory.ReadString(path, length);
        // Mounts are read-only: anything that would create, truncate or write is refused up front.
        if ((openFlags & (OFlagCreat | OFlagExcl | OFlagTrunc)) != 0
            || (rightsBase & WriteRights) != 0
            || (fdFlags & (FdFlagAppend | FdFlagDsync | FdFlagSync)) != 0)
            throw new WasiErrnoException(WasiErrno.RoFs);
        var host = WasiPathResolver.Resolve(dir, guestPath, (dirFlags & LookupSymlinkFollow) != 0);
        WasiFd opened;
        if (Directory.Exists(host))
            opened = new DirectoryFd(dir.MountRoot, host, null);
        else if (File.Exists(host))
        {
            if ((openFlags & OFlagDirectory) != 0) throw new WasiErrnoException(WasiErrno.NotDir);
            if (new FileInfo(host).LinkTarget is not null) throw new WasiErrnoException(WasiErrno.Loop); // O_NOFOLLOW on a link
            opened = new FileFd(File.OpenHandle(host, FileMode.Open, FileAccess.Read, FileShare.Read), host);
        }
        else
            throw new WasiErrnoException(WasiErrno.NoEnt);
        memory.WriteU32(resultPtr, (uint)ctx.Fds.Add(opened));
        return WasiErrno.Success;
    }

    public static WasiErrno FdReaddir(WasiPreview1Context ctx, Span<byte> span, uint fd, uint buffer, uint length, ulong cookie, uint usedPtr)
    {
        var memory = new GuestMemory(span);
        var dir = ctx.Fds.Get<DirectoryFd>(fd, WasiErrno.NotDir);
        var output = memory.Slice(buffer, length);
        memory.Slice(usedPtr, 4);
        var entries = new List<(string Name, byte Type, string Path)>
        {
            (".", FileTypeDirectory, dir.HostPath),
            ("..", FileTypeDirectory, Path.GetDirectoryName(dir.HostPath) ?? dir.HostPath),
        };
        foreach (var info in new DirectoryInfo(dir.HostPath).EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
            entries.Add((info.Name, FileType(info), info.FullName));

        var used = 0;
        Span<byte> header = stackalloc byte[DirentHeaderSize];
        for (var i = cookie; i < (ulong)entries.Count && used < output.Length; i++)
        {
            var (name, type, hostPath) = entries[(int)i];
            var nameBytes = Encoding.UTF8.GetBytes(name);
            header.Clear();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header, i + 1);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header[8..], Inode(hostPath));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)nameBytes.Length);
            header[20] = type;
            // Entries are cut at the buffer end: libc sees a full buffer and retries with a bigger one.
            used += CopyClipped(header, output[used..]);
            used += CopyClipped(nameBytes, output[used..]);
        }
        memory.WriteU32(usedPtr, (uint)used);
        return WasiErrno.Success;
    }

    private static int CopyClipped(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var n = Math.Min(source.Length, destination.Length);
        source[..n].CopyTo(destination);
        return n;
    }

    public static WasiErrno PathReadlink(WasiPreview1Context ctx, Span<byte> span, uint fd, uint path, uint length, uint buffer, uint bufferLength, uint usedPtr)
    {
        var memory = new GuestMemory(span);
        var dir = ctx.Fds.Get<DirectoryFd>(fd, WasiErrno.NotDir);
        var host = WasiPathResolver.Resolve(dir, memory.ReadString(path, length), followFinalLink: false);
        var target = new FileInfo(host).LinkTarget ?? throw new WasiErrnoException(WasiErrno.Inval);
        var bytes = Encoding.UTF8.GetBytes(target);
        var output = memory.Slice(buffer, bufferLength);
        memory.Slice(usedPtr, 4);
        var n = CopyClipped(bytes, output);
        memory.WriteU32(usedPtr, (uint)n);
        return WasiErrno.Success;
    }

    /// <summary>Anything that would modify a mount or a descriptor's file: EBADF for a bad descriptor, else EROFS.</summary>
    public static WasiErrno ReadOnly(WasiPreview1Context ctx, uint fd)
    {
        ctx.Fds.Get(fd);
        return WasiErrno.RoFs;
    }

    /// <summary>Sync/advise-style calls that have nothing to do on a read-only descriptor.</summary>
    public static WasiErrno NoOp(WasiPreview1Context ctx, uint fd)
    {
        ctx.Fds.Get(fd);
        return WasiErrno.Success;
    }
}
