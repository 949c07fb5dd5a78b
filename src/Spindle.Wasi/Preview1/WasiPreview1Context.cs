using System.Text;

namespace Spindle.Wasi.Preview1;

/// <summary>
/// The per-instance state of the WASI preview1 host: argv, environment, stdio streams, the descriptor table over
/// the read-only mounts, and the exit code once the guest called <c>proc_exit</c>. One per store; not thread-safe
/// (a store runs one call at a time).
/// </summary>
public sealed class WasiPreview1Context : IDisposable
{
    internal readonly WasiFdTable Fds = new();
    private readonly Func<IReadOnlyList<string>> _args;
    private readonly Func<IReadOnlyList<KeyValuePair<string, string>>> _environment;
    private byte[][]? _argBytes;
    private byte[][]? _envBytes;

    /// <summary>Creates the state; mounts are opened as preopened directories from fd 3 on, in order.</summary>
    /// <param name="args">argv, argv[0] included.</param>
    /// <param name="environment">Environment pairs in order (duplicates kept: guests usually take the first).</param>
    /// <param name="stdin">stdin.</param>
    /// <param name="stdout">stdout.</param>
    /// <param name="stderr">stderr.</param>
    /// <param name="mounts">Read-only directories; a missing host directory throws <see cref="DirectoryNotFoundException"/>.</param>
    /// <param name="cancellation">Cancels host waits (body reads, sleeps, flushes): the request deadline or client abort.</param>
    public WasiPreview1Context(
        IReadOnlyList<string> args,
        IReadOnlyList<KeyValuePair<string, string>> environment,
        IWasiInput stdin,
        IWasiOutput stdout,
        IWasiOutput stderr,
        IReadOnlyList<WasiFileMount>? mounts = null,
        CancellationToken cancellation = default)
        : this(() => args, () => environment, stdin, stdout, stderr, mounts, cancellation)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
    }

    /// <summary>
    /// Creates the state with argv and the environment built on first use: most guests never ask for them (a
    /// Wagi hello world reads neither), so a host that builds them per call saves that work.
    /// </summary>
    /// <param name="args">Builds argv, argv[0] included; called at most once, when the guest first asks.</param>
    /// <param name="environment">Builds the environment pairs in order; called at most once, when the guest first asks.</param>
    /// <param name="stdin">stdin.</param>
    /// <param name="stdout">stdout.</param>
    /// <param name="stderr">stderr.</param>
    /// <param name="mounts">Read-only directories; a missing host directory throws <see cref="DirectoryNotFoundException"/>.</param>
    /// <param name="cancellation">Cancels host waits (body reads, sleeps, flushes): the request deadline or client abort.</param>
    public WasiPreview1Context(
        Func<IReadOnlyList<string>> args,
        Func<IReadOnlyList<KeyValuePair<string, string>>> environment,
        IWasiInput stdin,
        IWasiOutput stdout,
        IWasiOutput stderr,
        IReadOnlyList<WasiFileMount>? mounts = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        _args = args;
        _environment = environment;
        Stdin = stdin;
        Stdout = stdout;
        Stderr = stderr;
        Cancellation = cancellation;
        Fds.Add(new StdioFd(0));
        Fds.Add(new StdioFd(1));
        Fds.Add(new StdioFd(2));
        foreach (var mount in mounts ?? [])
        {
            var root = WasiPathResolver.RealRoot(mount.HostPath);
            Fds.Add(new DirectoryFd(root, root, mount.GuestPath));
        }
    }

    /// <summary>argv as NUL-terminated UTF-8, built on first use.</summary>
    internal byte[][] ArgBytes => _argBytes ??= Encode(_args(), a => a);

    /// <summary>The environment as NUL-terminated UTF-8 <c>NAME=value</c>, built on first use.</summary>
    internal byte[][] EnvBytes => _envBytes ??= Encode(_environment(), kv => kv.Key + "=" + kv.Value);

    /// <summary>stdin.</summary>
    public IWasiInput Stdin { get; }

    /// <summary>stdout.</summary>
    public IWasiOutput Stdout { get; }

    /// <summary>stderr.</summary>
    public IWasiOutput Stderr { get; }

    /// <summary>Cancels host-side waits.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>Set when the guest called <c>proc_exit</c>: the call that ended in a trap actually ended normally.</summary>
    public int? ExitCode { get; internal set; }

    /// <summary>Closes opened files.</summary>
    public void Dispose() => Fds.Dispose();

    private static byte[][] Encode<T>(IReadOnlyList<T> items, Func<T, string> text)
    {
        var result = new byte[items.Count][];
        for (var i = 0; i < result.Length; i++) result[i] = NulTerminated(text(items[i]));
        return result;
    }

    private static byte[] NulTerminated(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
