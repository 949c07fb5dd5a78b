namespace Spindle.Hosting;

/// <summary>Startup failed; <see cref="Exception.Message"/> is one line meant for the user.</summary>
public sealed class SpindleStartupException(string message, Exception? inner = null) : Exception(message, inner);
