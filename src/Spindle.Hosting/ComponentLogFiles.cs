using Microsoft.Extensions.Logging;
using Spindle.Wasi;

namespace Spindle.Hosting;

/// <summary>
/// <c>-L/--log-dir</c>: each component's guest output (<see cref="GuestOutput"/>) appended to
/// <c>&lt;component&gt;_stdout.txt</c> and <c>&lt;component&gt;_stderr.txt</c> in one folder, as Spin names them. Every
/// other log message is left to the other providers.
/// </summary>
public sealed class ComponentLogFiles : ILoggerProvider
{
    private readonly string _directory;
    private readonly Dictionary<string, StreamWriter> _files = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>Writes into <paramref name="directory"/>, created if missing.</summary>
    /// <exception cref="SpindleStartupException">The folder cannot be created.</exception>
    public ComponentLogFiles(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        _directory = Path.GetFullPath(directory);
        try { Directory.CreateDirectory(_directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpindleStartupException($"--log-dir '{directory}': {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith(GuestOutput.CategoryPrefix, StringComparison.Ordinal) ? new FileLogger(this) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private void Append(string componentId, string stream, string line)
    {
        var name = $"{componentId}_{stream}.txt";
        lock (_lock)
        {
            if (_disposed) return;
            if (!_files.TryGetValue(name, out var writer))
            {
                var file = new FileStream(Path.Combine(_directory, name), FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                _files[name] = writer = new StreamWriter(file) { AutoFlush = true };
            }
            writer.Write(line);
            writer.Write('\n');
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var writer in _files.Values) writer.Dispose();
            _files.Clear();
        }
    }

    private sealed class FileLogger(ComponentLogFiles files) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != GuestOutput.EventId || state is not IReadOnlyList<KeyValuePair<string, object?>> values) return;
            string? component = null, stream = null, line = null;
            foreach (var (key, value) in values)
            {
                if (key == "ComponentId") component = value as string;
                else if (key == "Stream") stream = value as string;
                else if (key == "Line") line = value as string;
            }
            if (component is not null && stream is not null && line is not null) files.Append(component, stream, line);
        }
    }
}
