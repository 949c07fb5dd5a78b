using System.Text;
using Microsoft.AspNetCore.Http;
using Spindle.App.Model;

namespace Spindle.Trigger.Http.Server;

/// <summary>Writes a component's fixed <c>static_response</c> (no guest runs); a HEAD request gets the headers only.</summary>
internal static class StaticResponseWriter
{
    public static async Task WriteAsync(HttpContext context, StaticResponse fixedResponse)
    {
        var response = context.Response;
        response.StatusCode = fixedResponse.StatusCode;
        foreach (var (name, value) in fixedResponse.Headers)
            response.Headers.Append(name, value);
        var body = Encoding.UTF8.GetBytes(fixedResponse.Body);
        response.ContentLength = body.Length;
        if (body.Length > 0 && !HttpMethods.IsHead(context.Request.Method))
            await response.Body.WriteAsync(body, context.RequestAborted);
    }
}
