using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>
/// A real <c>redis-server</c> on a loopback port, in memory only (no RDB or AOF files), for the key-value tests.
/// It can be stopped and started again on the same port to play an outage. Stopped with SIGTERM by pid.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private Process? _process;

    private RedisServer(int port) => Port = port;

    /// <summary>The port it listens on.</summary>
    public int Port { get; }

    /// <summary>Its URL, <c>redis://127.0.0.1:port</c>.</summary>
    public string Url => $"redis://127.0.0.1:{Port}";

    /// <summary>Starts a server on a free loopback port.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer(FreePort());
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>A free loopback port (nothing listens on it once this returns).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Starts the server (again) on <see cref="Port"/> and waits until it answers.</summary>
    public async Task StartAgainAsync()
    {
        if (_process is not null) throw new InvalidOperationException("already running");
        var exe = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server"
            : throw new InvalidOperationException("redis-server is not installed (scripts/build-fixtures.sh installs it: apt-get install redis-server)");
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes" })
            info.ArgumentList.Add(a);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (await PingsAsync()) return;
            if (_process.HasExited) throw new InvalidOperationException($"redis-server exited with {_process.ExitCode}");
            await Task.Delay(50);
        }
        throw new TimeoutException($"redis-server did not answer on port {Port}");
    }

    /// <summary>Runs one command through the Redis protocol and answers the raw reply line (tests read keys as Spin left them).</summary>
    public async Task<string> CommandAsync(params string[] args)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        var stream = client.GetStream();
        var request = new System.Text.StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args) request.Append('$').Append(System.Text.Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(request.ToString()));
        using var reader = new StreamReader(stream);
        var first = await reader.ReadLineAsync() ?? "";
        // A bulk string: "$n" then the value.
        return first.StartsWith('$') && first != "$-1" ? await reader.ReadLineAsync() ?? "" : first;
    }

    private async Task<bool> PingsAsync()
    {
        try
        {
            return await CommandAsync("PING") == "+PONG";
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Stops the server (SIGTERM) and waits for it to exit.</summary>
    public void Stop()
    {
        if (_process is not { } p) return;
        _process = null;
        try
        {
            if (!p.HasExited) Kill(p.Id);
            if (!p.WaitForExit(10_000)) p.Kill();
            p.WaitForExit();
        }
        finally
        {
            p.Dispose();
        }
    }

    private static void Kill(int pid) => _ = kill(pid, 15);

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int kill(int pid, int signal);

    /// <inheritdoc />
    public void Dispose() => Stop();
}
