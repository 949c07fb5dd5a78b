using System.Text;
using Microsoft.Extensions.Logging;
using Spindle.Components.Values;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview2;
using Spindle.Wasi.Preview2.Io;
using static Spindle.Wasi.Tests.HostCalls;

namespace Spindle.Wasi.Tests;

public class HttpTypesTests
{
    private const string Types = "wasi:http/types";
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public void Incoming_request_answers_its_parts_and_gives_its_body_once()
    {
        var body = new IncomingBody(InputStream.FromBytes("abc"u8.ToArray()));
        var request = new IncomingRequest("PROPFIND", "/p?q=1", "http", "example.com:8080", new Fields(), body);
        Assert.Equal(9, ((VariantValue)Call(Types, "[method]incoming-request.method", null, request)!).Case);
        Assert.Equal("PROPFIND", ((VariantValue)Call(Types, "[method]incoming-request.method", null, request)!).Payload);
        Assert.Equal("/p?q=1", ((Some)Call(Types, "[method]incoming-request.path-with-query", null, request)!).Value);
        Assert.Equal(0, ((VariantValue)((Some)Call(Types, "[method]incoming-request.scheme", null, request)!).Value!).Case);
        Assert.Equal("example.com:8080", ((Some)Call(Types, "[method]incoming-request.authority", null, request)!).Value);
        var consumed = (ResultValue)Call(Types, "[method]incoming-request.consume", null, request)!;
        Assert.Same(body, consumed.Value);
        Assert.False(((ResultValue)Call(Types, "[method]incoming-request.consume", null, request)!).IsOk);
        Assert.True(((ResultValue)Call(Types, "[method]incoming-body.stream", null, body)!).IsOk);
        Assert.False(((ResultValue)Call(Types, "[method]incoming-body.stream", null, body)!).IsOk);
        var trailers = Assert.IsType<FutureTrailers>(Call(Types, "[static]incoming-body.finish", null, body));
        Assert.True(((Pollable)Call(Types, "[method]future-trailers.subscribe", null, trailers)!).IsReady);
        var got = (Some)Call(Types, "[method]future-trailers.get", null, trailers)!;
        Assert.True(((ResultValue)((ResultValue)got.Value!).Value!).IsOk);
        Assert.False(((ResultValue)((Some)Call(Types, "[method]future-trailers.get", null, trailers)!).Value!).IsOk);
        Assert.Equal(0, HttpVariants.MethodValue("GET").Case);
        Assert.Equal(8, HttpVariants.MethodValue("PATCH").Case);
    }

    [Fact]
    public void Outgoing_response_status_validation_and_body_once()
    {
        var response = (OutgoingResponse)Call(Types, "[constructor]outgoing-response", null, new Fields())!;
        Assert.Equal((ushort)200, Call(Types, "[method]outgoing-response.status-code", null, response));
        Assert.True(((ResultValue)Call(Types, "[method]outgoing-response.set-status-code", null, response, (ushort)404)!).IsOk);
        Assert.False(((ResultValue)Call(Types, "[method]outgoing-response.set-status-code", null, response, (ushort)99)!).IsOk);
        Assert.False(((ResultValue)Call(Types, "[method]outgoing-response.set-status-code", null, response, (ushort)1000)!).IsOk);
        Assert.Equal((ushort)404, Call(Types, "[method]outgoing-response.status-code", null, response));
        var body = (OutgoingBody)((ResultValue)Call(Types, "[method]outgoing-response.body", null, response)!).Value!;
        Assert.False(((ResultValue)Call(Types, "[method]outgoing-response.body", null, response)!).IsOk);
        Assert.True(((ResultValue)Call(Types, "[method]outgoing-body.write", null, body)!).IsOk);
        Assert.False(((ResultValue)Call(Types, "[method]outgoing-body.write", null, body)!).IsOk);
        var trailers = new Fields();
        trailers.Append("x-checksum", "1"u8.ToArray());
        Assert.True(((ResultValue)Call(Types, "[static]outgoing-body.finish", null, body, new Some(trailers))!).IsOk);
        Assert.Same(trailers, body.Trailers);
        Assert.True(body.IsFinished);
    }

    [Fact]
    public void Response_outparam_takes_one_response()
    {
        OutgoingResponse? seen = null;
        var outparam = new ResponseOutparam((r, _) => seen = r);
        var response = new OutgoingResponse(new Fields());
        Call(Types, "[static]response-outparam.set", null, outparam, ResultValue.Ok(response));
        Assert.Same(response, seen);
        Assert.Throws<InvalidOperationException>(() => Call(Types, "[static]response-outparam.set", null, outparam, ResultValue.Ok(response)));

        VariantValue? error = null;
        var failing = new ResponseOutparam((_, e) => error = e);
        Call(Types, "[static]response-outparam.set", null, failing, ResultValue.Err(HttpErrorCode.Of("HTTP-protocol-error")));
        Assert.Equal("HTTP-protocol-error", HttpErrorCode.NameOf(error!));
    }

    [Fact]
    public void Error_code_has_every_case_in_order()
    {
        Assert.Equal(39, HttpErrorCode.Type.Cases.Count);
        Assert.Equal("DNS-timeout", HttpErrorCode.CaseNames[0]);
        Assert.Equal(15, HttpErrorCode.RequestDenied().Case);
        Assert.Equal("internal-error", HttpErrorCode.CaseNames[38]);
    }

    [Fact]
    public async Task Outgoing_handler_denies_without_an_outbound_handler_and_uses_one_when_given()
    {
        var request = (OutgoingRequest)Call(Types, "[constructor]outgoing-request", null, new Fields())!;
        Assert.True(((ResultValue)Call(Types, "[method]outgoing-request.set-authority", null, request, new Some("example.com"))!).IsOk);
        Assert.False(((ResultValue)Call(Types, "[method]outgoing-request.set-authority", null, request, new Some("bad host/x"))!).IsOk);
        Assert.False(((ResultValue)Call(Types, "[method]outgoing-request.set-path-with-query", null, request, new Some("no-slash"))!).IsOk);
        Assert.True(((ResultValue)Call(Types, "[method]outgoing-request.set-method", null, request, new VariantValue(2))!).IsOk);
        Assert.False(((ResultValue)Call(Types, "[method]outgoing-request.set-method", null, request, new VariantValue(9, "bad method"))!).IsOk);

        var denied = (ResultValue)Call("wasi:http/outgoing-handler", "handle", new WasiHttpContext(), request, null)!;
        Assert.Equal("HTTP-request-denied", HttpErrorCode.NameOf((VariantValue)denied.Value!));

        var gate = new TaskCompletionSource<IncomingResponse>();
        OutgoingRequest? sent = null;
        var context = new WasiHttpContext { Outbound = (r, _, _, _) => { sent = r; return gate.Task; } };
        var future = (FutureIncomingResponse)((ResultValue)Call("wasi:http/outgoing-handler", "handle", context, request, null)!).Value!;
        Assert.Equal("POST", sent!.Method);
        Assert.Null(Call(Types, "[method]future-incoming-response.get", null, future));
        var pollable = (Pollable)Call(Types, "[method]future-incoming-response.subscribe", null, future)!;
        Assert.False(pollable.IsReady);
        gate.SetResult(new IncomingResponse(201, new Fields(), new IncomingBody(InputStream.Empty())));
        await pollable.WaitAsync(Ct);
        var got = (ResultValue)((ResultValue)((Some)Call(Types, "[method]future-incoming-response.get", null, future)!).Value!).Value!;
        Assert.Equal((ushort)201, Call(Types, "[method]incoming-response.status", null, got.Value));
    }

    [Fact]
    public void Cli_environment_exit_and_stdio_go_to_the_context()
    {
        var logs = new TestLogSink();
        var context = new WasiContext { ComponentId = "comp", Environment = [new("A", "1")], Arguments = ["prog"], Logger = logs };
        var env = (object?[])Call("wasi:cli/environment", "get-environment", context)!;
        Assert.Equal(["A", "1"], (object?[])env[0]!);
        Assert.Equal(["prog"], (object?[])Call("wasi:cli/environment", "get-arguments", context)!);
        Assert.Null(Call("wasi:cli/environment", "initial-cwd", context));
        Assert.Null(Call("wasi:cli/terminal-stdout", "get-terminal-stdout", context));

        var stdout = (OutputStream)Call("wasi:cli/stdout", "get-stdout", context)!;
        stdout.Write("line one\npartial"u8);
        Assert.Contains(logs.Lines, l => l == "Information: [comp stdout] line one");
        Assert.DoesNotContain(logs.Lines, l => l.Contains("partial", StringComparison.Ordinal));
        context.Dispose();
        Assert.Contains(logs.Lines, l => l == "Information: [comp stdout] partial");
        ((OutputStream)Call("wasi:cli/stderr", "get-stderr", context)!).Write("oops\n"u8);
        Assert.Contains(logs.Lines, l => l == "Warning: [comp stderr] oops");

        var exit = Assert.Throws<WasiExitException>(() => Call("wasi:cli/exit", "exit", context, ResultValue.Err()));
        Assert.Equal(1, exit.Status);
        Assert.Equal(1, context.ExitStatus);
        Assert.True(IsClosed(Call("wasi:io/streams", "[method]input-stream.read", context, Call("wasi:cli/stdin", "get-stdin", context), 10UL)));
    }

    private static bool IsClosed(object? r) => r is ResultValue { IsOk: false, Value: VariantValue { Case: 1 } };

    [Fact]
    public void Sockets_are_denied()
    {
        var tcp = (ResultValue)Call("wasi:sockets/tcp-create-socket", "create-tcp-socket", null, 0)!;
        Assert.Equal(1, tcp.Value); // access-denied
        var udp = (ResultValue)Call("wasi:sockets/udp-create-socket", "create-udp-socket", null, 1)!;
        Assert.Equal(1, udp.Value);
        var network = Call("wasi:sockets/instance-network", "instance-network", null);
        Assert.Equal(1, ((ResultValue)Call("wasi:sockets/ip-name-lookup", "resolve-addresses", null, network, "example.com")!).Value);
    }

    [Fact]
    public void Random_gives_the_requested_length()
    {
        Assert.Equal(32, ((byte[])Call("wasi:random/random", "get-random-bytes", null, 32UL)!).Length);
        Assert.Equal(7, ((byte[])Call("wasi:random/insecure", "get-insecure-random-bytes", null, 7UL)!).Length);
        Assert.Equal(2, ((object?[])Call("wasi:random/insecure-seed", "insecure-seed", null)!).Length);
        Assert.NotEqual(Call("wasi:random/random", "get-random-u64", null), Call("wasi:random/random", "get-random-u64", null));
    }
}
