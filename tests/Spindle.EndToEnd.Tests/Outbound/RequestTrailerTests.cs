using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Spindle.EndToEnd.Tests.Support;
using static Spindle.EndToEnd.Tests.Support.WatOutbound.ErrorCode;

namespace Spindle.EndToEnd.Tests.Outbound;

/// <summary>
/// A guest's request trailers (<c>outgoing-body.finish</c> with trailers) over the network: the WAT outbound guest
/// streams a POST body upstream and finishes it with <c>x-request-trailer</c>; a loopback Kestrel upstream reads the
/// body and the trailer Kestrel parsed from the last chunk, and answers both.
/// </summary>
public sealed class RequestTrailerTests(SharedRuntime runtime)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    /// <summary>Answers <c>"&lt;body length&gt;|&lt;x-request-trailer, empty without&gt;|&lt;protocol&gt;"</c>.</summary>
    private static async Task EchoTrailer(HttpContext http)
    {
        long length = 0;
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await http.Request.Body.ReadAsync(buffer, http.RequestAborted)) > 0)
            length += n;
        var trailer = http.Request.SupportsTrailers() && http.Request.CheckTrailersAvailable()
            ? http.Request.GetTrailer("x-request-trailer").ToString()
            : "";
        await http.Response.WriteAsync($"{length}|{trailer}|{http.Request.Protocol}", http.RequestAborted);
    }

    /// <summary>The WAT outbound app allowed to reach <paramref name="upstream"/>, trusting <paramref name="ca"/>'s roots for it (client_tls) when given.</summary>
    private async Task<(TestApp App, Spindle.Hosting.SpindleHost Host, HttpClient Client)> StartAsync(Upstream upstream, TestPki? ca = null)
    {
        var app = new TestApp(WatOutbound.Manifest([upstream.BaseUrl]));
        string? configPath = null;
        if (ca is not null)
        {
            app.WriteFile("ca.pem", ca.CaPem);
            configPath = app.WriteFile("runtime-config.toml", $"""
                [[client_tls]]
                component_ids = ["out"]
                hosts = ["127.0.0.1:{upstream.Port}"]
                ca_roots_file = "ca.pem"
                """);
        }
        var host = await app.StartAsync(runtime, configure: o => WatOutbound.With(o, runtimeConfigPath: configPath));
        return (app, host, TestApp.Client(host.BaseUrl));
    }

    private static WatRequest Post(string url, byte[] body, string? trailer) => WatRequest.For(url) with
    {
        Method = "POST",
        RequestTrailer = trailer,
        Body = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } },
    };

    [Fact]
    public async Task Request_trailers_reach_an_HTTP_1_1_upstream_in_the_last_chunk_on_a_reused_connection()
    {
        await using var upstream = await Upstream.StartAsync(EchoTrailer);
        var (app, host, client) = await StartAsync(upstream);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;
        var url = $"http://127.0.0.1:{upstream.Port}/";

        var first = await client.SendWatAsync(Post(url, "hello"u8.ToArray(), "one"), Ct);
        Assert.True(first.UpstreamStatus == 200, first.ToString());
        Assert.Equal("5|one|HTTP/1.1", first.Text);

        // A request without trailers between two with: nothing is added to its last chunk.
        var none = await client.SendWatAsync(Post(url, "abc"u8.ToArray(), null), Ct);
        Assert.True(none.UpstreamStatus == 200, none.ToString());
        Assert.Equal("3||HTTP/1.1", none.Text);

        // 1 MiB: the body spans many chunks and buffer flushes before the last one.
        var big = new byte[1024 * 1024];
        Random.Shared.NextBytes(big);
        var large = await client.SendWatAsync(Post(url, big, "two, with a comma"), Ct);
        Assert.True(large.UpstreamStatus == 200, large.ToString());
        Assert.Equal($"{big.Length}|two, with a comma|HTTP/1.1", large.Text);

        // An empty body still has a last chunk to carry them.
        var empty = await client.SendWatAsync(Post(url, [], "three"), Ct);
        Assert.Equal("0|three|HTTP/1.1", empty.Text);

        Assert.Equal(4, upstream.Requests);
        // Pooled: the four requests shared the connection (the trailer stream never confused one request's end for another's).
        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public async Task Request_trailers_reach_an_HTTPS_upstream_that_speaks_HTTP_1_1()
    {
        using var pki = new TestPki();
        using var leaf = pki.IssueServer("127.0.0.1", "localhost");
        await using var upstream = await Upstream.StartAsync(EchoTrailer, certificate: leaf, http1Only: true);
        var (app, host, client) = await StartAsync(upstream, pki);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;

        var reply = await client.SendWatAsync(Post($"https://127.0.0.1:{upstream.Port}/", "secret body"u8.ToArray(), "over tls"), Ct);
        Assert.True(reply.UpstreamStatus == 200, reply.ToString());
        Assert.Equal("11|over tls|HTTP/1.1", reply.Text);
    }

    [Fact]
    public async Task Over_HTTPS_trailers_known_up_front_ask_for_HTTP_1_1_and_late_ones_that_HTTP_2_cannot_carry_fail_the_request()
    {
        // The upstream speaks both. The guest starts the request before it ends the body: ALPN picks HTTP/2, and the
        // trailers that come later cannot be sent on it.
        using var pki = new TestPki();
        using var leaf = pki.IssueServer("127.0.0.1", "localhost");
        await using var upstream = await Upstream.StartAsync(EchoTrailer, certificate: leaf);
        var (app, host, client) = await StartAsync(upstream, pki);
        using var _ = app;
        await using var __ = host;
        using var ___ = client;
        var url = $"https://127.0.0.1:{upstream.Port}/";

        var failed = await client.SendWatAsync(Post(url, "body"u8.ToArray(), "lost?"), Ct);
        Assert.True(failed.ErrorCode == InternalError, failed.ToString());

        // A body the guest ended (with its trailers) before starting the request asks for HTTP/1.1, and they arrive.
        var known = await client.SendWatAsync(Post(url, "body"u8.ToArray(), "known up front") with { BodyFirst = true }, Ct);
        Assert.True(known.UpstreamStatus == 200, known.ToString());
        Assert.Equal("4|known up front|HTTP/1.1", known.Text);

        // The same request without trailers goes through over HTTP/2.
        var ok = await client.SendWatAsync(Post(url, "body"u8.ToArray(), null), Ct);
        Assert.True(ok.UpstreamStatus == 200, ok.ToString());
        Assert.Equal("4||HTTP/2", ok.Text);
    }
}
