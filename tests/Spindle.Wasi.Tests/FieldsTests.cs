using System.Text;
using Spindle.Components.Values;
using Spindle.Wasi.Http;
using static Spindle.Wasi.Tests.HostCalls;

namespace Spindle.Wasi.Tests;

public class FieldsTests
{
    private const string Types = "wasi:http/types";
    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);
    private static object?[] Entry(string name, string value) => [name, B(value)];

    private static int HeaderErrorCase(object? result)
    {
        var r = Assert.IsType<ResultValue>(result);
        Assert.False(r.IsOk);
        return Assert.IsType<VariantValue>(r.Value).Case;
    }

    [Fact]
    public void FromList_accepts_valid_entries_and_lowercases_names()
    {
        var r = Assert.IsType<ResultValue>(Call(Types, "[static]fields.from-list", null, (object)new object?[] { Entry("Content-Type", "text/plain"), Entry("x-a", "1"), Entry("X-A", "2") }));
        Assert.True(r.IsOk);
        var fields = Assert.IsType<Fields>(r.Value);
        var entries = Assert.IsType<object?[]>(Call(Types, "[method]fields.entries", null, fields));
        Assert.Equal(["content-type", "x-a", "x-a"], entries.Select(e => (string)((object?[])e!)[0]!));
        var values = Assert.IsType<object?[]>(Call(Types, "[method]fields.get", null, fields, "X-a"));
        Assert.Equal(["1", "2"], values.Select(v => Encoding.ASCII.GetString((byte[])v!)));
        Assert.Equal(true, Call(Types, "[method]fields.has", null, fields, "CONTENT-TYPE"));
        Assert.Equal(false, Call(Types, "[method]fields.has", null, fields, "missing"));
    }

    [Theory]
    [InlineData("connection")]
    [InlineData("Keep-Alive")]
    [InlineData("proxy-authorization")]
    [InlineData("proxy-authenticate")]
    [InlineData("proxy-connection")]
    [InlineData("transfer-encoding")]
    [InlineData("upgrade")]
    [InlineData("Host")]
    [InlineData("http2-settings")]
    public void Forbidden_headers_are_refused_everywhere(string name)
    {
        Assert.Equal((int)HeaderError.Forbidden, HeaderErrorCase(Call(Types, "[static]fields.from-list", null, (object)new object?[] { Entry(name, "x") })));
        var fields = new Fields();
        Assert.Equal((int)HeaderError.Forbidden, HeaderErrorCase(Call(Types, "[method]fields.append", null, fields, name, B("x"))));
        Assert.Equal((int)HeaderError.Forbidden, HeaderErrorCase(Call(Types, "[method]fields.set", null, fields, name, new object?[] { B("x") })));
        Assert.Equal((int)HeaderError.Forbidden, HeaderErrorCase(Call(Types, "[method]fields.delete", null, fields, name)));
    }

    [Theory]
    [InlineData("bad name", "ok")]
    [InlineData("", "ok")]
    [InlineData("x:y", "ok")]
    [InlineData("ok", "bad\nvalue")]
    [InlineData("ok", "bad\rvalue")]
    [InlineData("ok", "nul\0")]
    [InlineData("ok", "del\u007f")]
    public void Invalid_syntax_is_refused(string name, string value)
    {
        Assert.Equal((int)HeaderError.InvalidSyntax, HeaderErrorCase(Call(Types, "[static]fields.from-list", null, (object)new object?[] { Entry(name, value) })));
        Assert.Equal((int)HeaderError.InvalidSyntax, HeaderErrorCase(Call(Types, "[method]fields.append", null, new Fields(), name, B(value))));
    }

    [Fact]
    public void Obs_text_and_tabs_are_valid_values()
    {
        var fields = new Fields();
        Assert.True(((ResultValue)Call(Types, "[method]fields.append", null, fields, "x", new byte[] { 0x41, 0x09, 0xe9, 0x20 })!).IsOk);
    }

    [Fact]
    public void Set_replaces_delete_removes_clone_is_independent()
    {
        var fields = new Fields();
        fields.Append("a", B("1"));
        fields.Append("b", B("2"));
        fields.Append("a", B("3"));
        Assert.True(((ResultValue)Call(Types, "[method]fields.set", null, fields, "A", new object?[] { B("9"), B("8") })!).IsOk);
        Assert.Equal(["b:2", "a:9", "a:8"], fields.Entries.Select(e => $"{e.Key}:{Encoding.ASCII.GetString(e.Value)}"));
        var clone = Assert.IsType<Fields>(Call(Types, "[method]fields.clone", null, fields));
        Assert.True(((ResultValue)Call(Types, "[method]fields.delete", null, fields, "a")!).IsOk);
        Assert.Equal(["b:2"], fields.Entries.Select(e => $"{e.Key}:{Encoding.ASCII.GetString(e.Value)}"));
        Assert.Equal(3, clone.Entries.Count);
    }

    [Fact]
    public void Headers_of_requests_and_responses_are_immutable_views()
    {
        var headers = new Fields();
        headers.Append("x-one", B("1"));
        var response = Assert.IsType<OutgoingResponse>(Call(Types, "[constructor]outgoing-response", null, headers));
        var view = Assert.IsType<Fields>(Call(Types, "[method]outgoing-response.headers", null, response));
        Assert.Equal((int)HeaderError.Immutable, HeaderErrorCase(Call(Types, "[method]fields.append", null, view, "x-two", B("2"))));
        Assert.Equal((int)HeaderError.Immutable, HeaderErrorCase(Call(Types, "[method]fields.set", null, view, "x-one", new object?[] { B("2") })));
        Assert.Equal((int)HeaderError.Immutable, HeaderErrorCase(Call(Types, "[method]fields.delete", null, view, "x-one")));
        // Syntax is checked before mutability, as wasmtime does.
        Assert.Equal((int)HeaderError.InvalidSyntax, HeaderErrorCase(Call(Types, "[method]fields.append", null, view, "bad name", B("2"))));
        // A clone of an immutable view is mutable.
        var clone = Assert.IsType<Fields>(Call(Types, "[method]fields.clone", null, view));
        Assert.True(((ResultValue)Call(Types, "[method]fields.append", null, clone, "x-two", B("2"))!).IsOk);
        Assert.Single(response.Headers.Entries);

        var request = new IncomingRequest("GET", "/", "http", "localhost", Fields.FromHost([new("Host", B("localhost")), new("Accept", B("*/*"))], immutable: true),
            new IncomingBody(Preview2.Io.InputStream.Empty()));
        var reqHeaders = Assert.IsType<Fields>(Call(Types, "[method]incoming-request.headers", null, request));
        Assert.Equal((int)HeaderError.Immutable, HeaderErrorCase(Call(Types, "[method]fields.append", null, reqHeaders, "x", B("1"))));
        // Forbidden headers (host) are not shown to the guest; the authority carries the host.
        Assert.Equal(["accept"], reqHeaders.Entries.Select(e => e.Key));
    }

    [Fact]
    public void Host_builder_lowercases_names_keeps_order_and_drops_forbidden_or_invalid_entries()
    {
        var builder = new Fields.HostBuilder(2);
        builder.Add("User-Agent", "wrk");
        builder.Add("Host", "localhost");          // forbidden, whatever its case
        builder.Add("X-Custom-ÄB", "1");          // not a token
        builder.Add("x-multi", "a");
        builder.Add("Transfer-Encoding", "chunked");
        builder.Add("x-bad", B("a\r\nb"));        // control characters
        builder.Add("X-Multi", "b");
        builder.Add("spin-path-info", "/ü");
        var fields = builder.Build(immutable: true);
        Assert.True(fields.IsImmutable);
        Assert.Equal(["user-agent", "x-multi", "x-multi", "spin-path-info"], fields.Entries.Select(e => e.Key));
        Assert.Equal(["wrk", "a", "b", "/ü"], fields.Entries.Select(e => Encoding.UTF8.GetString(e.Value)));
    }

    [Fact]
    public void Incoming_request_builds_its_headers_once_and_only_when_asked()
    {
        var built = 0;
        var request = new IncomingRequest("GET", "/", "http", "localhost", () =>
        {
            built++;
            return Fields.FromHost([new("Accept", B("*/*"))], immutable: false);
        }, new IncomingBody(Preview2.Io.InputStream.Empty()));
        Assert.Equal(0, built);
        var first = Assert.IsType<Fields>(Call(Types, "[method]incoming-request.headers", null, request));
        var second = Assert.IsType<Fields>(Call(Types, "[method]incoming-request.headers", null, request));
        Assert.Equal(1, built);
        Assert.True(first.IsImmutable);
        Assert.Equal(["accept"], second.Entries.Select(e => e.Key));
    }
}
