using System.Net;
using System.Net.Sockets;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>
/// A loopback port where a TCP connect hangs: a listener that never accepts, its accept queue filled (backlog 0),
/// so the kernel drops further SYNs and a client waits for its own timeout. Reliable where the outside network is
/// not (a sandbox may answer every SYN to an unroutable address at once). Linux drops such SYNs; a platform that
/// resets them instead gets null from <see cref="CreateAsync"/>.
/// </summary>
public sealed class SynBlackHole : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _fillers;

    private SynBlackHole(Socket listener, List<Socket> fillers)
    {
        _listener = listener;
        _fillers = fillers;
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>The port (on 127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>Fills the queue until a connect attempt hangs (proved, not assumed); null when the platform refuses instead.</summary>
    public static async Task<SynBlackHole?> CreateAsync(CancellationToken cancellation)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var endpoint = (IPEndPoint)listener.LocalEndPoint!;
        var fillers = new List<Socket>();
        for (var i = 0; i < 64; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            attempt.CancelAfter(TimeSpan.FromMilliseconds(500));
            try
            {
                await socket.ConnectAsync(endpoint, attempt.Token);
                fillers.Add(socket);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                // This attempt hung: the queue is full and SYNs are dropped from now on.
                socket.Dispose();
                return new SynBlackHole(listener, fillers);
            }
            catch (SocketException)
            {
                socket.Dispose();
                break;
            }
        }
        foreach (var s in fillers) s.Dispose();
        listener.Dispose();
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var s in _fillers) s.Dispose();
        _listener.Dispose();
    }
}
