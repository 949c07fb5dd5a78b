namespace Spindle.App.Variables;

/// <summary>A source of application variable values (environment, command line...). Names are lower snake case.</summary>
public interface IVariableProvider
{
    /// <summary>Returns the value for <paramref name="name"/>, or <c>null</c> when this provider has none.</summary>
    string? Get(string name);
}

/// <summary><c>SPIN_VARIABLE_&lt;NAME&gt;</c> environment variables (name upper-cased).</summary>
public sealed class EnvironmentVariableProvider : IVariableProvider
{
    private readonly Func<string, string?> _getEnv;

    /// <summary>
    /// Reads variables through <paramref name="getEnv"/>: the host decides where they come from (the CLI passes
    /// <see cref="Environment.GetEnvironmentVariable(string)"/>, an ASP.NET Core host its configuration).
    /// </summary>
    public EnvironmentVariableProvider(Func<string, string?> getEnv) =>
        _getEnv = getEnv ?? throw new ArgumentNullException(nameof(getEnv));

    /// <inheritdoc />
    public string? Get(string name) => _getEnv("SPIN_VARIABLE_" + name.ToUpperInvariant());
}

/// <summary>Fixed values, e.g. from <c>--variable KEY=VALUE</c> (last occurrence wins).</summary>
public sealed class StaticVariableProvider(IEnumerable<KeyValuePair<string, string>> values) : IVariableProvider
{
    private readonly Dictionary<string, string> _values = values
        .GroupBy(kv => kv.Key.ToLowerInvariant())
        .ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);

    /// <inheritdoc />
    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : null;
}
