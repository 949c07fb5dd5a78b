using System.Text;
using Microsoft.AspNetCore.Http;
using Spindle.Trigger.Http.Executors.Wagi;

namespace Spindle.Wagi.Tests;

/// <summary>CGI output parsing (spec §4.3) against an in-memory response; the executor tests cover the real path.</summary>
public sealed class WagiResponseWriterTests
{
    private static (WagiResponseWriter Writer, HttpContext Http, MemoryStream Body) Run(params string[] writes)
    {
        var http = new DefaultHttpContext();
        var body = new MemoryStream();
        http.Response.Body = body;
        var writer = new WagiResponseWriter(http.Response);
        foreach (var w in writes)
        {
            writer.Write(Encoding.UTF8.GetBytes(w));
            if (writer.FlushPending) writer.FlushAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }
        return (writer, http, body);
    }

    [Fact]
    public void Headers_split_across_writes_with_crlf_and_body_kept_byte_exact()
    {
        var (writer, http, body) = Run("Content-Type: text/html\r", "\n\r", "\nline1\r\nline2");
        Assert.True(writer.HeadersSent);
        Assert.Equal(200, http.Response.StatusCode);
        Assert.Equal("text/html", http.Response.ContentType);
        Assert.Equal("line1\r\nline2", Encoding.UTF8.GetString(body.ToArray()));
    }

    [Fact]
    public void Status_text_after_the_code_is_ignored_and_location_keeps_explicit_status()
    {
        var (writer, http, _) = Run("status: 201 Created\nlocation: /x\n\n");
        Assert.True(writer.HeadersSent);
        Assert.Equal(201, http.Response.StatusCode);
        Assert.Equal("/x", http.Response.Headers.Location.ToString());
    }

    [Theory]
    [InlineData("status: abc\n\n", 502)]
    [InlineData("status: 20\n\n", 502)]
    [InlineData("x-only: 1\n\n", 500)]
    [InlineData("content-type: text/plain\nx-bad: a\u0001b\n\n", 500)]
    public void Unusable_headers_become_a_problem_sent_after_the_run(string output, int status)
    {
        var (writer, http, body) = Run(output, "ignored body");
        Assert.False(writer.HeadersSent);
        Assert.Equal(status, writer.Problem?.Status);
        Assert.Equal(0, body.Length);
        Assert.Equal(200, http.Response.StatusCode); // untouched until the executor answers
    }

    [Fact]
    public void Missing_headers_problem_carries_spins_message()
    {
        var (writer, _, _) = Run("x: y\n\nbody");
        Assert.Equal(WagiResponseWriter.InsufficientHeaders, writer.Problem?.Body);
    }

    [Fact]
    public void No_blank_line_means_no_headers_yet()
    {
        var (writer, _, body) = Run("content-type: text/plain\nhello");
        Assert.False(writer.HeadersSent);
        Assert.Null(writer.Problem);
        Assert.True(writer.AnyOutput);
        Assert.Equal(0, body.Length);
    }

    [Fact]
    public void Invalid_names_and_hop_by_hop_headers_are_dropped_and_duplicates_keep_the_last()
    {
        var (_, http, _) = Run("content-type: a/b\nbad name: 1\ntransfer-encoding: chunked\nx-d: 1\nX-D: 2\nno colon line\n\n");
        Assert.False(http.Response.Headers.ContainsKey("bad name"));
        Assert.False(http.Response.Headers.ContainsKey("transfer-encoding"));
        Assert.Equal("2", http.Response.Headers["x-d"].ToString());
    }
}
