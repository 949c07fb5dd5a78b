using Spindle.App.Model;

namespace Spindle.App.Manifest;

/// <summary>
/// The manifest cannot be used. The message names the file, the key path, the offending value and, when TOML
/// gives one, the line and column: <c>spin.toml:12:10: component.web.source = "x.wasm": file not found</c>.
/// </summary>
public sealed class ManifestException : Exception
{
    /// <summary>Creates the error and formats its message.</summary>
    public ManifestException(string file, string? keyPath, string? value, SourceLocation? location, string problem, Exception? inner = null)
        : base(Format(file, keyPath, value, location, problem), inner)
    {
        File = file;
        KeyPath = keyPath;
        Value = value;
        Location = location;
        Problem = problem;
    }

    /// <summary>The manifest file.</summary>
    public string File { get; }

    /// <summary>Dotted key path (<c>trigger.http[0].route</c>), or <c>null</c> for whole-file problems.</summary>
    public string? KeyPath { get; }

    /// <summary>The offending value as written (TOML-ish rendering), if any.</summary>
    public string? Value { get; }

    /// <summary>Line and column of the key, if known.</summary>
    public SourceLocation? Location { get; }

    /// <summary>What is wrong, without the location prefix.</summary>
    public string Problem { get; }

    private static string Format(string file, string? keyPath, string? value, SourceLocation? location, string problem)
    {
        var where = location is { } l ? $"{file}:{l.Line}:{l.Column}" : file;
        var what = (keyPath, value) switch
        {
            (null, null) => "",
            (not null, null) => $" {keyPath}:",
            (null, not null) => $" {value}:",
            _ => $" {keyPath} = {value}:",
        };
        return $"{where}:{what} {problem}";
    }
}
