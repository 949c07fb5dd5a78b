namespace Spindle.Hosting;

/// <summary>How one application mapped with <see cref="SpinApplicationEndpoints.MapSpinApplication(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder, string, Action{SpinApplicationOptions}?)"/> is loaded.</summary>
public sealed class SpinApplicationOptions
{
    /// <summary>Application variable values (as <c>--variable KEY=VALUE</c>), before <c>SPIN_VARIABLE_*</c> and the manifest's defaults.</summary>
    public IDictionary<string, string> Variables { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Whether <c>SPIN_VARIABLE_&lt;NAME&gt;</c> values are read from the application's configuration (which holds the
    /// environment variables in a default ASP.NET Core host). Default on.
    /// </summary>
    public bool VariablesFromConfiguration { get; set; } = true;

    /// <summary>Spin's runtime configuration file (key-value stores, SQLite databases, outbound HTTP); relative to the content root. Null: none.</summary>
    public string? RuntimeConfigPath { get; set; }

    /// <summary>Where the default key-value store and SQLite database live (null: the runtime config's <c>state_dir</c>, else <c>.spin</c> beside the manifest).</summary>
    public string? StateDirectory { get; set; }

    /// <summary>Silence the components' stdout and stderr.</summary>
    public bool Quiet { get; set; }
}
