namespace Spindle.Wasi.Preview1;

/// <summary>
/// Thrown by <c>proc_exit</c>: the program ended normally with <see cref="ExitCode"/>. The binding turns it into a
/// trap that unwinds the guest; callers recognise the end through <see cref="WasiPreview1Context.ExitCode"/>.
/// </summary>
public sealed class WasiExitException(int exitCode) : Exception($"wasi proc_exit({exitCode})")
{
    /// <summary>The code the guest passed to <c>proc_exit</c>.</summary>
    public int ExitCode { get; } = exitCode;
}

/// <summary>Internal short-cut out of a host function with an errno (bad pointer, bad descriptor...).</summary>
internal sealed class WasiErrnoException(WasiErrno errno) : Exception(errno.ToString())
{
    public WasiErrno Errno { get; } = errno;
}
