namespace Spindle.Wasi.Preview1;

/// <summary>WASI preview1 <c>errno</c> values (the subset the host returns; numbers are the ABI values).</summary>
public enum WasiErrno : ushort
{
    /// <summary>No error.</summary>
    Success = 0,
    /// <summary>Argument list too long.</summary>
    TooBig = 1,
    /// <summary>Permission denied.</summary>
    Access = 2,
    /// <summary>Resource unavailable, try again.</summary>
    Again = 6,
    /// <summary>Bad file descriptor.</summary>
    BadF = 8,
    /// <summary>File exists.</summary>
    Exist = 20,
    /// <summary>Bad address: a guest pointer or length outside its memory.</summary>
    Fault = 21,
    /// <summary>Illegal byte sequence.</summary>
    IlSeq = 25,
    /// <summary>Interrupted.</summary>
    Intr = 27,
    /// <summary>Invalid argument.</summary>
    Inval = 28,
    /// <summary>I/O error.</summary>
    Io = 29,
    /// <summary>Is a directory.</summary>
    IsDir = 31,
    /// <summary>Too many levels of symbolic links.</summary>
    Loop = 32,
    /// <summary>Too many open files.</summary>
    MFile = 33,
    /// <summary>Filename too long.</summary>
    NameTooLong = 37,
    /// <summary>No such file or directory.</summary>
    NoEnt = 44,
    /// <summary>Function not supported.</summary>
    NoSys = 52,
    /// <summary>Not a directory.</summary>
    NotDir = 54,
    /// <summary>Not supported.</summary>
    NotSup = 58,
    /// <summary>Value too large.</summary>
    Overflow = 61,
    /// <summary>Operation not permitted.</summary>
    Perm = 63,
    /// <summary>Broken pipe.</summary>
    Pipe = 64,
    /// <summary>Read-only file system.</summary>
    RoFs = 69,
    /// <summary>Invalid seek.</summary>
    SPipe = 70,
    /// <summary>Capabilities insufficient (e.g. a path escaping its mount).</summary>
    NotCapable = 76,
}
