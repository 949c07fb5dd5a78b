using System.Text;
using Microsoft.AspNetCore.Http;
using Spindle.Trigger.Http.Executors;

namespace Spindle.Trigger.Tests.Support;

/// <summary>
/// A real <see cref="IExecutorFactory"/> for trigger tests (Wasm execution is another layer): the response body lists
/// the component, then every header the component would see (client headers, then spin-* ones), one per line.
/// A path ending in "/throw" makes it fail before answering; "/wait" waits for <see cref="Release"/>.
/// </summary>
internal sealed class EchoExecutorFactory : IExecutorFactory
{
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Waiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public List<string> Created { get; } = [];

    public IRequestExecutor Create(ExecutorContext context)
    {
        Created.Add(context.Component.Id);
        return new EchoExecutor(context.Component.Id, this);
    }

    private sealed class EchoExecutor(string id, EchoExecutorFactory factory) : IRequestExecutor
    {
        public async Task ExecuteAsync(InboundRequest request)
        {
            var path = request.Http.Request.Path.Value ?? "";
            if (path.EndsWith("/throw", StringComparison.Ordinal)) throw new InvalidOperationException("guest trapped");
            if (path.EndsWith("/wait", StringComparison.Ordinal))
            {
                factory.Waiting.TrySetResult();
                await factory.Release.Task;
            }
            var sb = new StringBuilder($"component: {id}\n");
            foreach (var h in request.Http.Request.Headers)
                foreach (var v in h.Value)
                    sb.Append($"{h.Key.ToLowerInvariant()}: {v}\n");
            foreach (var (k, v) in request.SpinHeaders)
                sb.Append($"{k}: {v}\n");
            request.Http.Response.StatusCode = 200;
            request.Http.Response.ContentType = "text/plain";
            await request.Http.Response.WriteAsync(sb.ToString(), request.Aborted);
        }
    }

    /// <summary>Reads an echo body back into (component, headers).</summary>
    public static (string Component, List<KeyValuePair<string, string>> Headers) Parse(string body)
    {
        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var headers = lines.Skip(1).Select(l =>
        {
            var i = l.IndexOf(": ", StringComparison.Ordinal);
            return i < 0 ? new KeyValuePair<string, string>(l.TrimEnd(':'), "") : new KeyValuePair<string, string>(l[..i], l[(i + 2)..]);
        }).ToList();
        return (lines[0]["component: ".Length..], headers);
    }
}
