namespace Spindle.Trigger.Http.Server;

/// <summary>
/// A request's deadline: cancelled when the request timeout passes; for a chained call, as soon as its caller
/// gives up; for a client's request, <see cref="ClientGoneGrace"/> after the client went away (or at the
/// timeout, if sooner).
/// </summary>
internal sealed class RequestDeadline : IDisposable
{
    /// <summary>How long a guest may go on after its client went away.</summary>
    internal static readonly TimeSpan ClientGoneGrace = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource _source;
    private readonly CancellationTokenRegistration _clientGone;
    private readonly long _timeoutAt;

    public RequestDeadline(TimeSpan? timeout, CancellationToken clientGone, bool chained)
    {
        _source = chained ? CancellationTokenSource.CreateLinkedTokenSource(clientGone) : new CancellationTokenSource();
        _timeoutAt = timeout is { } t ? Environment.TickCount64 + (long)t.TotalMilliseconds : long.MaxValue;
        if (timeout is { } limit) _source.CancelAfter(limit);
        if (!chained) _clientGone = clientGone.UnsafeRegister(static d => ((RequestDeadline)d!).ClientLeft(), this);
    }

    public CancellationToken Token => _source.Token;

    private void ClientLeft()
    {
        var left = Math.Min((long)ClientGoneGrace.TotalMilliseconds, _timeoutAt - Environment.TickCount64);
        try { _source.CancelAfter(TimeSpan.FromMilliseconds(Math.Max(0, left))); }
        catch (ObjectDisposedException) { } // the request ended meanwhile
    }

    public void Dispose()
    {
        _clientGone.Dispose();
        _source.Dispose();
    }
}
