// Plain ASP.NET Core forwarder: what Spindle's outbound HTTP (a guest fetching an upstream) is compared against.
// GET any path: fetches the URL in request header `x-target` (the same header the JS fetch guest reads) through one
// pooled HttpClient and answers the upstream's status with its body (streamed). No x-target: 400.
using System.Net;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
var client = new HttpClient(new SocketsHttpHandler
{
    // Pooled keep-alive connections (the default lifetime), no proxy, redirects, cookies or decompression: as
    // Spindle's own outbound pool is configured.
    UseProxy = false,
    AllowAutoRedirect = false,
    UseCookies = false,
    AutomaticDecompression = DecompressionMethods.None,
}) { Timeout = Timeout.InfiniteTimeSpan };

app.MapGet("/{**path}", async (HttpContext ctx) =>
{
    if (ctx.Request.Headers["x-target"].ToString() is not { Length: > 0 } target)
    {
        ctx.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }
    using var request = new HttpRequestMessage(HttpMethod.Get, target);
    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ctx.RequestAborted);
    ctx.Response.StatusCode = (int)response.StatusCode;
    ctx.Response.ContentType = "text/plain";
    if (response.Content.Headers.ContentLength is { } length)
        ctx.Response.ContentLength = length;
    await response.Content.CopyToAsync(ctx.Response.Body, ctx.RequestAborted);
});
app.Run();
