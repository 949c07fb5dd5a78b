using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Spindle.App.Model;
using Spindle.Trigger.Http.Routing;

namespace Spindle.Trigger.Http.Server;

/// <summary>What Spindle answers itself under <c>/.well-known/spin/</c>: <c>health</c> and <c>info</c> (spec §1), else 404.</summary>
internal sealed class ReservedResponses(SpinApp app)
{
    private readonly byte[] _infoJson = AppInfoJson(app);

    /// <summary>Answers <paramref name="path"/>, which starts with <see cref="Router.ReservedPrefix"/>.</summary>
    public async Task RespondAsync(HttpContext context, string path)
    {
        var response = context.Response;
        switch (path[Router.ReservedPrefix.Length..])
        {
            case "health":
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentLength = 2;
                await response.Body.WriteAsync("OK"u8.ToArray(), context.RequestAborted);
                break;
            case "info":
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "application/json";
                response.ContentLength = _infoJson.Length;
                await response.Body.WriteAsync(_infoJson, context.RequestAborted);
                break;
            default:
                response.StatusCode = StatusCodes.Status404NotFound;
                break;
        }
    }

    private static byte[] AppInfoJson(SpinApp app)
    {
        var info = new Dictionary<string, string> { ["name"] = app.Name };
        if (app.Version is not null) info["version"] = app.Version;
        return JsonSerializer.SerializeToUtf8Bytes(info, new JsonSerializerOptions { WriteIndented = true });
    }
}
