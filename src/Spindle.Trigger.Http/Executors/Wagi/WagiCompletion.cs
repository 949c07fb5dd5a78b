using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Spindle.Trigger.Http.Executors.Wagi;

/// <summary>
/// Ends a Wagi response once the guest has finished (spec §4.3): after the headers went out a failure can only
/// abort the connection; before, a failure is a 500 (or the client's error, such as a malformed or too large request
/// body), unusable headers answer their problem's status, and output without a blank line ending the headers is a
/// 500 (with Spin's text when headers were missing).
/// </summary>
public static class WagiCompletion
{
    /// <summary>Sends the final answer for a request whose guest has ended.</summary>
    /// <param name="http">The request.</param>
    /// <param name="writer">The CGI writer the guest's stdout went to.</param>
    /// <param name="failure">Why the guest failed (trap, timeout, exit status, client gone), or null.</param>
    /// <param name="componentId">Named in the log.</param>
    /// <param name="request">The request as the log names it (<see cref="InboundRequest.Describe"/>).</param>
    /// <param name="logger">Receives the reason.</param>
    /// <param name="failureStatus">What to answer for <paramref name="failure"/> if nothing was sent: 500, or a 4xx when the client's request body was at fault.</param>
    public static async Task FinishAsync(HttpContext http, WagiResponseWriter writer, string? failure, string componentId, string request, ILogger logger,
        int failureStatus = StatusCodes.Status500InternalServerError)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(logger);
        var clientError = failure is not null && failureStatus is >= 400 and < 500;
        // Headers the guest set but that never left give way to the client's error.
        if (writer.HeadersSent && !(clientError && !http.Response.HasStarted))
        {
            if (failure is null) return; // Kestrel completes the body when the request ends
            logger.WagiFailedAfterStart(componentId, failure, request);
            http.Abort();
            return;
        }
        if (clientError)
        {
            // The module's headers (if any) never left: the client's own error is the answer.
            logger.WagiClientError(componentId, failure!, failureStatus, request);
            if (!http.Response.HasStarted) http.Response.Clear();
            await RespondAsync(http, failureStatus, "").ConfigureAwait(false);
        }
        else if (failure is not null)
        {
            logger.WagiFailed(componentId, failure, request);
            await RespondAsync(http, failureStatus, "").ConfigureAwait(false);
        }
        else if (writer.Problem is { } problem)
        {
            logger.WagiInvalidOutput(componentId, problem.Reason, request);
            await RespondAsync(http, problem.Status, problem.Body).ConfigureAwait(false);
        }
        else if (!writer.AnyOutput)
        {
            logger.WagiNoOutput(componentId, request);
            await RespondAsync(http, 500, "").ConfigureAwait(false);
        }
        else
        {
            logger.WagiNoHeaderEnd(componentId, request);
            await RespondAsync(http, 500, WagiResponseWriter.InsufficientHeaders).ConfigureAwait(false);
        }
    }

    private static async Task RespondAsync(HttpContext http, int status, string body)
    {
        if (http.Response.HasStarted) { http.Abort(); return; }
        http.Response.StatusCode = status;
        if (body.Length > 0)
        {
            try
            {
                await http.Response.WriteAsync(body).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                // the client is gone
            }
        }
    }
}
