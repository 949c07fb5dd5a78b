using System.Net;
using System.Net.Sockets;
using Spindle.Wasi.Http;

namespace Spindle.Outbound.Http;

/// <summary>
/// Opens the TCP connections of an application's outbound pools (a <c>SocketsHttpHandler.ConnectCallback</c>):
/// 1. resolves the name (IP literals are not looked up); 2. drops addresses in blocked networks, failing with
/// <c>destination-IP-prohibited</c> when none is left, so a name that resolves into a blocked range never gets a
/// connection; 3. takes a connection permit (<c>max_connections</c>), held until the connection closes; 4. connects.
/// All of it runs under the guest's connect timeout (waiting for a permit included, as Spin).
/// </summary>
internal sealed class OutboundConnector(Func<IPAddress, bool>? isBlocked, int? maxConnections,
    Func<DnsEndPoint, CancellationToken, ValueTask<IPEndPoint[]>>? resolve)
{
    private readonly SemaphoreSlim? _permits = maxConnections is > 0 and var m ? new SemaphoreSlim(m, m) : null;

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellation)
    {
        if (maxConnections == 0)
            throw new HttpErrorCodeException(HttpErrorCode.Of("connection-limit-reached"), "max_connections is 0");
        var timeout = context.InitialRequestMessage.Options.TryGetValue(HttpClientOutbound.ConnectTimeoutOption, out var t)
            ? t : HttpClientOutbound.DefaultTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        var permitTaken = false;
        Socket? socket = null;
        try
        {
            var endpoints = resolve is not null
                ? await resolve(context.DnsEndPoint, deadline.Token).ConfigureAwait(false)
                : (await ResolveAsync(context.DnsEndPoint.Host, deadline.Token).ConfigureAwait(false))
                    .Select(a => new IPEndPoint(a, context.DnsEndPoint.Port)).ToArray();
            if (isBlocked is not null)
            {
                endpoints = endpoints.Where(e => !isBlocked(e.Address)).ToArray();
                if (endpoints.Length == 0)
                    throw new HttpErrorCodeException(HttpErrorCode.Of("destination-IP-prohibited"),
                        $"every address of '{context.DnsEndPoint.Host}' is in a blocked network");
            }
            if (_permits is not null)
            {
                await _permits.WaitAsync(deadline.Token).ConfigureAwait(false);
                permitTaken = true;
            }
            if (endpoints.Length == 0)
                throw new HttpErrorCodeException(HttpClientOutbound.DnsError(), $"'{context.DnsEndPoint.Host}' has no address");
            socket = await ConnectAnyAsync(endpoints, deadline.Token).ConfigureAwait(false);
            var stream = new PermitStream(new NetworkStream(socket, ownsSocket: true), permitTaken ? _permits : null);
            permitTaken = false;
            socket = null;
            return stream;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new HttpErrorCodeException(HttpErrorCode.Of("connection-timeout"),
                $"no connection to {context.DnsEndPoint.Host}:{context.DnsEndPoint.Port} within {timeout.TotalMilliseconds:0} ms");
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain)
        {
            throw new HttpErrorCodeException(HttpClientOutbound.DnsError(), $"cannot resolve '{context.DnsEndPoint.Host}': {e.Message}");
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused)
        {
            throw new HttpErrorCodeException(HttpErrorCode.Of("connection-refused"), e.Message);
        }
        finally
        {
            socket?.Dispose();
            if (permitTaken)
                _permits!.Release();
        }
    }

    /// <summary>Tries each address in turn (as <c>Socket.ConnectAsync(IPAddress[])</c>), keeping the last error.</summary>
    private static async ValueTask<Socket> ConnectAnyAsync(IPEndPoint[] endpoints, CancellationToken cancellation)
    {
        SocketException? last = null;
        foreach (var endpoint in endpoints)
        {
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(endpoint, cancellation).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }

    private static async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellation)
    {
        var literal = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (IPAddress.TryParse(literal, out var address))
            return [address];
        return await Dns.GetHostAddressesAsync(host, cancellation).ConfigureAwait(false);
    }

    /// <summary>A connection that gives its permit back when the pool closes it.</summary>
    private sealed class PermitStream(NetworkStream inner, SemaphoreSlim? permits) : Stream
    {
        private int _disposed;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => inner.Read(buffer);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override void Flush() => inner.Flush();
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                inner.Dispose();
                permits?.Release();
            }
            base.Dispose(disposing);
        }
    }
}
