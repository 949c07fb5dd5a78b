namespace Spindle.Wasi.Preview1;

/// <summary>Preview1 ABI constants (witx <c>wasi_snapshot_preview1</c>): file types, flags, rights, struct sizes.</summary>
internal static class WasiAbi
{
    public const byte FileTypeUnknown = 0;
    public const byte FileTypeCharacterDevice = 2;
    public const byte FileTypeDirectory = 3;
    public const byte FileTypeRegularFile = 4;
    public const byte FileTypeSymbolicLink = 7;

    public const ushort OFlagCreat = 1, OFlagDirectory = 2, OFlagExcl = 4, OFlagTrunc = 8;
    public const ushort FdFlagAppend = 1, FdFlagDsync = 2, FdFlagNonblock = 4, FdFlagRsync = 8, FdFlagSync = 16;
    public const uint LookupSymlinkFollow = 1;

    public const ulong RightFdDatasync = 1 << 0, RightFdRead = 1 << 1, RightFdSeek = 1 << 2, RightFdFdstatSetFlags = 1 << 3;
    public const ulong RightFdSync = 1 << 4, RightFdTell = 1 << 5, RightFdWrite = 1 << 6, RightFdAdvise = 1 << 7;
    public const ulong RightFdAllocate = 1 << 8, RightPathOpen = 1 << 13, RightFdReaddir = 1 << 14;
    public const ulong RightPathReadlink = 1 << 15, RightPathFilestatGet = 1 << 18, RightFdFilestatGet = 1 << 21;
    public const ulong RightFdFilestatSetSize = 1 << 22, RightPollFdReadwrite = 1 << 27;

    /// <summary>Rights that only a writable descriptor needs: asking for them on a read-only mount is refused.</summary>
    public const ulong WriteRights = RightFdWrite | RightFdDatasync | RightFdAllocate | RightFdFilestatSetSize;

    public const ulong FileRights = RightFdRead | RightFdSeek | RightFdTell | RightFdFdstatSetFlags | RightFdAdvise
                                    | RightFdSync | RightFdFilestatGet | RightPollFdReadwrite;
    public const ulong DirectoryRights = RightPathOpen | RightFdReaddir | RightPathReadlink | RightPathFilestatGet
                                         | RightFdFilestatGet | RightFdFdstatSetFlags | RightFdSync;
    public const ulong StdinRights = RightFdRead | RightPollFdReadwrite | RightFdFdstatSetFlags | RightFdFilestatGet;
    public const ulong StdoutRights = RightFdWrite | RightPollFdReadwrite | RightFdFdstatSetFlags | RightFdFilestatGet;

    public const int FdstatSize = 24, FilestatSize = 64, PrestatSize = 8, DirentHeaderSize = 24;
    public const int SubscriptionSize = 48, EventSize = 32;

    public const byte EventTypeClock = 0, EventTypeFdRead = 1, EventTypeFdWrite = 2;
    public const ushort SubClockAbstime = 1;

    public const uint ClockRealtime = 0, ClockMonotonic = 1, ClockProcessCputime = 2, ClockThreadCputime = 3;
    public const byte WhenceSet = 0, WhenceCur = 1, WhenceEnd = 2;
}
