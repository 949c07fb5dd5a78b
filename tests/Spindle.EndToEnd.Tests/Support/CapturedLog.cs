using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>Keeps every formatted log line (with exception text) so tests can check what was and was not logged.</summary>
public sealed class CapturedLog : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>Every line so far, in order.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <summary>All lines joined.</summary>
    public string Text => string.Join('\n', _lines);

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <inheritdoc />
    public void Dispose() { }

    private sealed class Logger(CapturedLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception)}");
    }
}
