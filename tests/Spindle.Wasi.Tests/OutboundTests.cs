using System.Text;
using Microsoft.AspNetCore.Http;
using Spindle.Components.Values;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview2.Io;
using static Spindle.Wasi.Tests.HostCalls;

namespace Spindle.Wasi.Tests;

/// <summary>A guest's outbound request, driven through the host functions, sent by <see cref="HttpClientOutbound"/> to a real Kestrel.</summary>
public class OutboundTests
{
    private const string Types = "wasi:http/types";
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static async Task<object?> AwaitFuture(FutureIncomingResponse future)
    {
        await ((Pollable)Call(Types, "[method]future-incoming-response.subscribe", null, future)!).WaitAsync(Ct);
        var outer = (ResultValue)((Some)Call(Types, "[method]future-incoming-response.get", null, future)!).Value!;
        Assert.True(outer.IsOk);
        return ((ResultValue)outer.Value!).Value;
    }

    [Fact]
    public async Task Request_and_response_bodies_stream_through_a_real_upstream()
    {
        await using var upstream = await TestServer.StartAsync(async http =>
        {
            http.Response.Headers["x-seen"] = http.Request.Headers["x-test"];
            http.Response.Headers["x-path"] = http.Request.Path + http.Request.QueryString;
            http.Response.ContentType = http.Request.ContentType;
            await http.Request.Body.CopyToAsync(http.Response.Body, http.RequestAborted);
        });
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var context = new WasiHttpContext { Outbound = HttpClientOutbound.Create(invoker), Cancellation = Ct };

        var headers = (Fields)((ResultValue)Call(Types, "[static]fields.from-list", null,
            (object)new object?[] { new object?[] { "x-test", "1"u8.ToArray() }, new object?[] { "content-type", "text/plain"u8.ToArray() } })!).Value!;
        var request = (OutgoingRequest)Call(Types, "[constructor]outgoing-request", null, headers)!;
        Call(Types, "[method]outgoing-request.set-method", null, request, new VariantValue(2));
        Call(Types, "[method]outgoing-request.set-scheme", null, request, new Some(new VariantValue(0)));
        Call(Types, "[method]outgoing-request.set-authority", null, request, new Some($"127.0.0.1:{upstream.Client.BaseAddress!.Port}"));
        Call(Types, "[method]outgoing-request.set-path-with-query", null, request, new Some("/up?x=1"));
        var body = (OutgoingBody)((ResultValue)Call(Types, "[method]outgoing-request.body", null, request)!).Value!;
        var output = (OutputStream)((ResultValue)Call(Types, "[method]outgoing-body.write", null, body)!).Value!;

        var future = (FutureIncomingResponse)((ResultValue)Call("wasi:http/outgoing-handler", "handle", context, request, null)!).Value!;
        var payload = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("hello upstream ", 20_000)));
        Assert.True(((ResultValue)(await CallAsync("wasi:io/streams", "[method]output-stream.blocking-write-and-flush", context, Ct, output, payload))!).IsOk);
        Assert.True(((ResultValue)Call(Types, "[static]outgoing-body.finish", null, body, null)!).IsOk);

        var response = Assert.IsType<IncomingResponse>(await AwaitFuture(future));
        Assert.Equal((ushort)200, Call(Types, "[method]incoming-response.status", null, response));
        var responseHeaders = (Fields)Call(Types, "[method]incoming-response.headers", null, response)!;
        Assert.Equal("1", Encoding.ASCII.GetString(responseHeaders.Get("x-seen").Single()));
        Assert.Equal("/up?x=1", Encoding.ASCII.GetString(responseHeaders.Get("x-path").Single()));
        Assert.Equal("text/plain", Encoding.ASCII.GetString(responseHeaders.Get("content-type").Single()));
        var incoming = (IncomingBody)((ResultValue)Call(Types, "[method]incoming-response.consume", null, response)!).Value!;
        var input = (InputStream)((ResultValue)Call(Types, "[method]incoming-body.stream", null, incoming)!).Value!;
        var received = new MemoryStream();
        while (true)
        {
            var r = (ResultValue)(await CallAsync("wasi:io/streams", "[method]input-stream.blocking-read", context, Ct, input, 65536UL))!;
            if (!r.IsOk)
                break;
            received.Write((byte[])r.Value!);
        }
        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public async Task A_refused_connection_is_the_connection_refused_error_code()
    {
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var context = new WasiHttpContext { Outbound = HttpClientOutbound.Create(invoker), Cancellation = Ct };
        var request = (OutgoingRequest)Call(Types, "[constructor]outgoing-request", null, new Fields())!;
        Call(Types, "[method]outgoing-request.set-scheme", null, request, new Some(new VariantValue(0)));
        Call(Types, "[method]outgoing-request.set-authority", null, request, new Some("127.0.0.1:1"));
        var future = (FutureIncomingResponse)((ResultValue)Call("wasi:http/outgoing-handler", "handle", context, request, null)!).Value!;
        var error = Assert.IsType<VariantValue>(await AwaitFuture(future));
        Assert.Equal("connection-refused", HttpErrorCode.NameOf(error));
    }

    [Fact]
    public async Task Response_trailers_from_an_HTTP2_upstream_reach_future_trailers()
    {
        await using var upstream = await TestServer.StartAsync(async http =>
        {
            await http.Response.WriteAsync("body", http.RequestAborted);
            http.Response.AppendTrailer("x-checksum", "abc123");
        }, http2Only: true);
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var request = new OutgoingRequest(new Fields()) { Scheme = "http", Authority = $"127.0.0.1:{upstream.Client.BaseAddress!.Port}", PathWithQuery = "/" };
        var message = HttpClientOutbound.ToRequestMessage(request);
        message.Version = System.Net.HttpVersion.Version20;
        message.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        var response = await HttpClientOutbound.SendAsync(invoker, message, null, Ct);
        var body = response.Consume()!;
        var input = body.TakeStream()!;
        var received = new MemoryStream();
        while (true)
        {
            var r = (ResultValue)(await CallAsync("wasi:io/streams", "[method]input-stream.blocking-read", new WasiHttpContext(), Ct, input, 65536UL))!;
            if (!r.IsOk)
                break;
            received.Write((byte[])r.Value!);
        }
        Assert.Equal("body", Encoding.ASCII.GetString(received.ToArray()));
        var trailers = (Some)Call(Types, "[method]future-trailers.get", null, body.Finish())!;
        var fields = (Fields)((Some)((ResultValue)((ResultValue)trailers.Value!).Value!).Value!).Value!;
        Assert.Equal("abc123", Encoding.ASCII.GetString(fields.Get("x-checksum").Single()));
    }

    private static async Task<(byte[] Received, StreamError? Error)> ReadAllAsync(InputStream input)
    {
        var received = new MemoryStream();
        while (true)
        {
            var outcome = await input.BlockingReadAsync(65536, Ct);
            if (outcome.Error is { } error)
                return (received.ToArray(), error.IsClosed ? null : error);
            received.Write(outcome.Data);
        }
    }

    private static async Task<InputStream> BodyOf(HttpMessageInvoker invoker, TestServer upstream, ulong betweenBytesNs)
    {
        var request = new OutgoingRequest(new Fields()) { Scheme = "http", Authority = $"127.0.0.1:{upstream.Client.BaseAddress!.Port}", PathWithQuery = "/" };
        var response = await HttpClientOutbound.SendAsync(invoker, HttpClientOutbound.ToRequestMessage(request),
            new RequestOptions { BetweenBytesTimeout = betweenBytesNs }, Ct);
        return response.Consume()!.TakeStream()!;
    }

    [Fact]
    public async Task A_body_that_stalls_past_the_between_bytes_timeout_fails_with_connection_read_timeout()
    {
        await using var upstream = await TestServer.StartAsync(async http =>
        {
            await http.Response.WriteAsync("first", http.RequestAborted);
            await http.Response.Body.FlushAsync(http.RequestAborted);
            await Task.Delay(TimeSpan.FromSeconds(10), http.RequestAborted);
        });
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var (received, error) = await ReadAllAsync(await BodyOf(invoker, upstream, 200_000_000));
        Assert.Equal("first", Encoding.ASCII.GetString(received));
        Assert.NotNull(error);
        Assert.Equal("connection-read-timeout", HttpErrorCode.NameOf((VariantValue)error.Error!.HttpErrorCode!));
    }

    [Fact]
    public async Task The_between_bytes_timeout_applies_to_each_wait_not_to_the_whole_body()
    {
        // Four gaps of 150 ms under a 400 ms timeout: 600 ms in all, each wait well inside it.
        await using var upstream = await TestServer.StartAsync(async http =>
        {
            for (var i = 0; i < 4; i++)
            {
                await http.Response.WriteAsync($"{i}", http.RequestAborted);
                await http.Response.Body.FlushAsync(http.RequestAborted);
                await Task.Delay(150, http.RequestAborted);
            }
        });
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var (received, error) = await ReadAllAsync(await BodyOf(invoker, upstream, 400_000_000));
        Assert.Null(error);
        Assert.Equal("0123", Encoding.ASCII.GetString(received));
    }
}
