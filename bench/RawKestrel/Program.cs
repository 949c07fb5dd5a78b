// Raw Kestrel hello: what Spindle's per-request Wasm work is compared against.
// `--slow-ms N` (the fetch benchmarks' upstream) also answers GET /slow with the same hello after N ms; without it
// every path is the plain hello, with no extra work per request.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
var hello = "Hello, world!\n"u8.ToArray();
RequestDelegate helloHandler = async ctx =>
{
    ctx.Response.ContentType = "text/plain";
    ctx.Response.ContentLength = hello.Length;
    await ctx.Response.Body.WriteAsync(hello);
};
if (app.Configuration["slow-ms"] is { } slow)
{
    var delay = TimeSpan.FromMilliseconds(int.Parse(slow));
    app.Run(async ctx =>
    {
        if (ctx.Request.Path == "/slow")
            await Task.Delay(delay, ctx.RequestAborted);
        await helloHandler(ctx);
    });
}
else
    app.Run(helloHandler);
app.Run();
