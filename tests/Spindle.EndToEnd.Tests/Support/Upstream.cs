using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>
/// A real loopback Kestrel server that outbound requests go to. It counts every TCP connection and every request it
/// sees, so a test can prove that a denied request made no connection at all.
/// </summary>
public sealed class Upstream : IAsyncDisposable
{
    private readonly WebApplication _web;
    private int _connections;
    private int _requests;

    private Upstream(WebApplication web, int port, string scheme)
    {
        _web = web;
        Port = port;
        BaseUrl = $"{scheme}://127.0.0.1:{port}";
    }

    /// <summary>The bound port.</summary>
    public int Port { get; }

    /// <summary><c>http(s)://127.0.0.1:port</c>.</summary>
    public string BaseUrl { get; }

    /// <summary>TCP connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Requests seen so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>
    /// Starts a server answering with <paramref name="handler"/>; HTTPS (HTTP/1.1 and HTTP/2 by ALPN, or HTTP/1.1 only
    /// with <paramref name="http1Only"/>) when <paramref name="certificate"/> is given.
    /// </summary>
    public static async Task<Upstream> StartAsync(RequestDelegate handler, X509Certificate2? certificate = null, bool h2c = false, bool http1Only = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        Upstream? self = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            k.Listen(IPAddress.Loopback, 0, lo =>
            {
                lo.Use(next => async connection =>
                {
                    Interlocked.Increment(ref self!._connections);
                    await next(connection);
                });
                if (certificate is not null)
                {
                    lo.Protocols = http1Only ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2;
                    lo.UseHttps(certificate);
                }
                else
                    lo.Protocols = h2c ? HttpProtocols.Http2 : HttpProtocols.Http1;
            });
        });
        var web = builder.Build();
        web.Run(async context =>
        {
            Interlocked.Increment(ref self!._requests);
            await handler(context);
        });
        await web.StartAsync(TestContext.Current.CancellationToken);
        var address = web.Urls.First();
        var port = new Uri(address).Port;
        self = new Upstream(web, port, certificate is null ? "http" : "https");
        return self;
    }

    /// <summary>
    /// A handler for bulk tests: a POST is answered <c>"&lt;length&gt; &lt;SHA-256 hex&gt;"</c> of its body (read as it
    /// streams, never held); anything else gets <paramref name="payload"/> with its length.
    /// </summary>
    public static RequestDelegate HashPostsServe(byte[] payload) => async http =>
    {
        if (http.Request.Method == "POST")
        {
            using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = await http.Request.Body.ReadAsync(buffer, http.RequestAborted)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                total += n;
            }
            await http.Response.WriteAsync($"{total} {Convert.ToHexString(sha.GetHashAndReset())}", http.RequestAborted);
            return;
        }
        http.Response.ContentLength = payload.Length;
        await http.Response.Body.WriteAsync(payload, http.RequestAborted);
    };

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _web.StopAsync(CancellationToken.None);
        await _web.DisposeAsync();
    }
}
