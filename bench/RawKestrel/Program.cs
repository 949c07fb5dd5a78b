// Raw Kestrel hello: what Spindle's per-request Wasm work is compared against.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
var hello = "Hello, world!\n"u8.ToArray();
app.Run(async ctx =>
{
    ctx.Response.ContentType = "text/plain";
    ctx.Response.ContentLength = hello.Length;
    await ctx.Response.Body.WriteAsync(hello);
});
app.Run();
