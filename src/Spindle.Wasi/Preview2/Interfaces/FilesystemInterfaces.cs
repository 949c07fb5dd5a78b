using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;

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
        var readOnly = ResultValue.Err(Code("read-only"));
        var badDescriptor = ResultValue.Err(Code("bad-descriptor"));
        void Deny(string method, (string, ValType)[] ps, ValType ok, ResultValue answer) =>
            types.DefineFunc($"[method]descriptor.{method}", T.Func([self, .. ps], T.Result(ok, errorCode)), (_, _) => answer);
        void DenyUnit(string method, (string, ValType)[] ps, ResultValue answer) =>
            types.DefineFunc($"[method]descriptor.{method}", T.Func([self, .. ps], T.Result(null, errorCode)), (_, _) => answer);

        Deny("read-via-stream", [("offset", T.U64)], T.Own(io.InputStreamType), badDescriptor);
        Deny("write-via-stream", [("offset", T.U64)], T.Own(io.OutputStreamType), readOnly);
        Deny("append-via-stream", [], T.Own(io.OutputStreamType), readOnly);
        DenyUnit("advise", [("offset", T.U64), ("length", T.U64), ("advice", advice)], badDescriptor);
        DenyUnit("sync-data", [], readOnly);
        Deny("get-flags", [], descriptorFlags, badDescriptor);
        Deny("get-type", [], descriptorType, badDescriptor);
        DenyUnit("set-size", [("size", T.U64)], readOnly);
        DenyUnit("set-times", [("data-access-timestamp", newTimestamp), ("data-modification-timestamp", newTimestamp)], readOnly);
        Deny("read", [("length", T.U64), ("offset", T.U64)], T.Tuple(T.List(T.U8), T.Bool), badDescriptor);
        Deny("write", [("buffer", T.List(T.U8)), ("offset", T.U64)], T.U64, readOnly);
        Deny("read-directory", [], T.Own(entryStream), badDescriptor);
        DenyUnit("sync", [], readOnly);
        DenyUnit("create-directory-at", [path], readOnly);
        Deny("stat", [], descriptorStat, badDescriptor);
        Deny("stat-at", [("path-flags", pathFlags), path], descriptorStat, badDescriptor);
        DenyUnit("set-times-at", [("path-flags", pathFlags), path, ("data-access-timestamp", newTimestamp), ("data-modification-timestamp", newTimestamp)], readOnly);
        DenyUnit("link-at", [("old-path-flags", pathFlags), ("old-path", T.String), ("new-descriptor", other), ("new-path", T.String)], readOnly);
        Deny("open-at", [("path-flags", pathFlags), path, ("open-flags", openFlags), ("flags", descriptorFlags)], T.Own(descriptor), badDescriptor);
        Deny("readlink-at", [path], T.String, badDescriptor);
        DenyUnit("remove-directory-at", [path], readOnly);
        DenyUnit("rename-at", [("old-path", T.String), ("new-descriptor", other), ("new-path", T.String)], readOnly);
        DenyUnit("symlink-at", [("old-path", T.String), ("new-path", T.String)], readOnly);
        DenyUnit("unlink-file-at", [path], readOnly);
        types.DefineFunc("[method]descriptor.is-same-object", T.Func([self, ("other", other)], T.Bool), (_, a) => ReferenceEquals(a[0], a[1]));
        Deny("metadata-hash", [], hashValue, badDescriptor);
        Deny("metadata-hash-at", [("path-flags", pathFlags), path], hashValue, badDescriptor);
        types.DefineFunc("[method]directory-entry-stream.read-directory-entry",
            T.Func([("self", T.Borrow(entryStream))], T.Result(T.Option(directoryEntry), errorCode)), (_, _) => ResultValue.Ok(null));
        types.DefineFunc("filesystem-error-code", T.Func([("err", T.Borrow(io.ErrorType))], T.Option(errorCode)), (_, _) => null);
        yield return types;

        var preopens = new HostInterface("wasi:filesystem/preopens", version);
        preopens.UseResource("descriptor", descriptor);
        preopens.DefineFunc("get-directories", T.Func([], T.List(T.Tuple(T.Own(descriptor), T.String))), (_, _) => Array.Empty<object?>());
        yield return preopens;
    }
}
