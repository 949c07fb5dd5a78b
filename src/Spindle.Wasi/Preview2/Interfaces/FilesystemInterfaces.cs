using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasi.Preview2.Filesystem;

namespace Spindle.Wasi.Preview2.Interfaces;

/// <summary>
/// <c>wasi:filesystem/types</c> and <c>preopens</c>. Components get no preopened directories yet, so a guest can
/// never hold a descriptor; every descriptor function still answers a proper error code.
/// </summary>
internal static class FilesystemInterfaces
{
    private static readonly string[] ErrorCodes =
    [
        "access", "would-block", "already", "bad-descriptor", "busy", "deadlock", "quota", "exist", "file-too-large",
        "illegal-byte-sequence", "in-progress", "interrupted", "invalid", "io", "is-directory", "loop", "too-many-links",
        "message-size", "name-too-long", "no-device", "no-entry", "no-lock", "insufficient-memory", "insufficient-space",
        "not-directory", "not-empty", "not-recoverable", "unsupported", "no-tty", "no-such-device", "overflow",
        "not-permitted", "pipe", "read-only", "invalid-seek", "text-file-busy", "cross-device",
    ];

    /// <summary>The index of a <c>wasi:filesystem/types.error-code</c> case.</summary>
    public static int Code(string name) => Array.IndexOf(ErrorCodes, name) is var i and >= 0 ? i : throw new ArgumentException(name);

    private static ResultValue Guard(Func<object?> body)
    {
        try
        {
            return ResultValue.Ok(body());
        }
        catch (FilesystemException e)
        {
            return ResultValue.Err(Code(e.Code));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return ResultValue.Err(Code("no-entry"));
        }
        catch (UnauthorizedAccessException)
        {
            return ResultValue.Err(Code("access"));
        }
        catch (IOException)
        {
            return ResultValue.Err(Code("io"));
        }
    }

    private static int TypeOf(FileSystemInfo info) =>
        info.LinkTarget is not null ? 5 : info is DirectoryInfo ? 3 : 6;

    private static object?[] Stat(FileSystemInfo info) =>
    [
        TypeOf(info), 1UL, info is FileInfo f ? (ulong)f.Length : 0UL,
        Time(info.LastAccessTimeUtc), Time(info.LastWriteTimeUtc), Time(info.LastWriteTimeUtc),
    ];

    private static Some Time(DateTime utc)
    {
        var ticks = utc.Ticks - DateTime.UnixEpoch.Ticks;
        return new Some(new object?[] { (ulong)Math.Max(0, ticks / TimeSpan.TicksPerSecond), (uint)(Math.Max(0, ticks) % TimeSpan.TicksPerSecond * 100) });
    }

    // Two descriptors of the same file hash the same; a change of size or time changes the hash.
    private static object?[] Hash(string fullPath, FileSystemInfo info)
    {
        var h = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{fullPath}|{info.LastWriteTimeUtc.Ticks}|{(info as FileInfo)?.Length}"));
        return [BitConverter.ToUInt64(h, 0), BitConverter.ToUInt64(h, 8)];
    }

    public static IEnumerable<HostInterface> Create(string version, IoInterfaces io)
    {
        var types = new HostInterface("wasi:filesystem/types", version);
        types.UseResource("input-stream", io.InputStreamType);
        types.UseResource("output-stream", io.OutputStreamType);
        types.UseResource("error", io.ErrorType);
        var datetime = ClocksRandomInterfaces.Datetime;
        types.DefineType("datetime", datetime);
        types.DefineType("filesize", T.U64);
        types.DefineType("link-count", T.U64);
        var descriptorType = T.Enum("unknown", "block-device", "character-device", "directory", "fifo", "symbolic-link", "regular-file", "socket");
        var descriptorFlags = T.Flags("read", "write", "file-integrity-sync", "data-integrity-sync", "requested-write-sync", "mutate-directory");
        var descriptorStat = T.Record(("type", descriptorType), ("link-count", T.U64), ("size", T.U64),
            ("data-access-timestamp", T.Option(datetime)), ("data-modification-timestamp", T.Option(datetime)), ("status-change-timestamp", T.Option(datetime)));
        var pathFlags = T.Flags("symlink-follow");
        var openFlags = T.Flags("create", "directory", "exclusive", "truncate");
        var newTimestamp = T.Variant(("no-change", null), ("now", null), ("timestamp", datetime));
        var directoryEntry = T.Record(("type", descriptorType), ("name", T.String));
        var errorCode = T.Enum(ErrorCodes);
        var advice = T.Enum("normal", "sequential", "random", "will-need", "dont-need", "no-reuse");
        var hashValue = T.Record(("lower", T.U64), ("upper", T.U64));
        types.DefineType("descriptor-type", descriptorType);
        types.DefineType("descriptor-flags", descriptorFlags);
        types.DefineType("descriptor-stat", descriptorStat);
        types.DefineType("path-flags", pathFlags);
        types.DefineType("open-flags", openFlags);
        types.DefineType("new-timestamp", newTimestamp);
        types.DefineType("directory-entry", directoryEntry);
        types.DefineType("error-code", errorCode);
        types.DefineType("advice", advice);
        types.DefineType("metadata-hash-value", hashValue);
        var descriptor = types.DefineResource("descriptor");
        var entryStream = types.DefineResource("directory-entry-stream");

        var self = ("self", (ValType)T.Borrow(descriptor));
        var path = ("path", (ValType)T.String);
        var other = T.Borrow(descriptor);
        var notPermitted = ResultValue.Err(Code("not-permitted"));
        void Define(string method, (string, ValType)[] ps, ValType? ok, Func<Descriptor, object?[], object?> impl) =>
            types.DefineFunc($"[method]descriptor.{method}", T.Func([self, .. ps], T.Result(ok, errorCode)), (_, a) => Guard(() => impl(Args.Self<Descriptor>(a), a)));
        void ReadOnly(string method, (string, ValType)[] ps, ValType? ok = null) =>
            types.DefineFunc($"[method]descriptor.{method}", T.Func([self, .. ps], T.Result(ok, errorCode)), (_, _) => notPermitted);

        Define("read-via-stream", [("offset", T.U64)], T.Own(io.InputStreamType), (d, a) => d.ReadViaStream(Args.U64(a, 1)));
        ReadOnly("write-via-stream", [("offset", T.U64)], T.Own(io.OutputStreamType));
        ReadOnly("append-via-stream", [], T.Own(io.OutputStreamType));
        Define("advise", [("offset", T.U64), ("length", T.U64), ("advice", advice)], null, (_, _) => null);
        Define("sync-data", [], null, (_, _) => null);
        Define("get-flags", [], descriptorFlags, (_, _) => 1u); // read
        Define("get-type", [], descriptorType, (d, _) => d.IsDirectory ? 3 : 6);
        ReadOnly("set-size", [("size", T.U64)]);
        ReadOnly("set-times", [("data-access-timestamp", newTimestamp), ("data-modification-timestamp", newTimestamp)]);
        Define("read", [("length", T.U64), ("offset", T.U64)], T.Tuple(T.List(T.U8), T.Bool), (d, a) =>
        {
            var (data, end) = d.Read(Args.Length(Args.U64(a, 1), 1024 * 1024), Args.U64(a, 2));
            return new object?[] { data, end };
        });
        ReadOnly("write", [("buffer", T.List(T.U8)), ("offset", T.U64)], T.U64);
        Define("read-directory", [], T.Own(entryStream), (d, _) => new DirectoryEntryStream(d.List()));
        Define("sync", [], null, (_, _) => null);
        ReadOnly("create-directory-at", [path]);
        Define("stat", [], descriptorStat, (d, _) => Stat(d.Stat()));
        Define("stat-at", [("path-flags", pathFlags), path], descriptorStat, (d, a) => Stat(d.Stat(Args.Str(a, 2))));
        ReadOnly("set-times-at", [("path-flags", pathFlags), path, ("data-access-timestamp", newTimestamp), ("data-modification-timestamp", newTimestamp)]);
        ReadOnly("link-at", [("old-path-flags", pathFlags), ("old-path", T.String), ("new-descriptor", other), ("new-path", T.String)]);
        Define("open-at", [("path-flags", pathFlags), path, ("open-flags", openFlags), ("flags", descriptorFlags)], T.Own(descriptor), (d, a) =>
        {
            var open = Args.U32(a, 3);
            var flags = Args.U32(a, 4);
            // create | exclusive | truncate, or write | mutate-directory, need a writable file system.
            var wantsWrite = (open & (1 | 4 | 8)) != 0 || (flags & (2 | 32)) != 0;
            return d.OpenAt(Args.Str(a, 2), mustBeDirectory: (open & 2) != 0, wantsWrite);
        });
        Define("readlink-at", [path], T.String, (d, a) =>
        {
            var target = new FileInfo(d.Resolve(Args.Str(a, 1))).LinkTarget
                ?? throw new FilesystemException("invalid", "not a symbolic link");
            return target;
        });
        ReadOnly("remove-directory-at", [path]);
        ReadOnly("rename-at", [("old-path", T.String), ("new-descriptor", other), ("new-path", T.String)]);
        ReadOnly("symlink-at", [("old-path", T.String), ("new-path", T.String)]);
        ReadOnly("unlink-file-at", [path]);
        types.DefineFunc("[method]descriptor.is-same-object", T.Func([self, ("other", other)], T.Bool),
            (_, a) => Args.Self<Descriptor>(a).FullPath == Args.At<Descriptor>(a, 1).FullPath);
        Define("metadata-hash", [], hashValue, (d, _) => Hash(d.FullPath, d.Stat()));
        Define("metadata-hash-at", [("path-flags", pathFlags), path], hashValue, (d, a) => Hash(d.Resolve(Args.Str(a, 2)), d.Stat(Args.Str(a, 2))));
        types.DefineFunc("[method]directory-entry-stream.read-directory-entry",
            T.Func([("self", T.Borrow(entryStream))], T.Result(T.Option(directoryEntry), errorCode)), (_, a) => Guard(() =>
                Args.Self<DirectoryEntryStream>(a).Next() is { } e ? new Some(new object?[] { TypeOf(e.Info), e.Name }) : null));
        types.DefineFunc("filesystem-error-code", T.Func([("err", T.Borrow(io.ErrorType))], T.Option(errorCode)), (_, _) => null);
        yield return types;

        var preopens = new HostInterface("wasi:filesystem/preopens", version);
        preopens.UseResource("descriptor", descriptor);
        preopens.DefineFunc("get-directories", T.Func([], T.List(T.Tuple(T.Own(descriptor), T.String))), (c, _) =>
            Args.Wasi(c).Preopens.Select(p => (object?)new object?[] { Descriptor.OpenRoot(p.HostPath), p.GuestPath }).ToArray());
        yield return preopens;
    }
}
