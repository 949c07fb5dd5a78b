using Spindle.Components.Values;

namespace Spindle.Wasi.Http;

/// <summary>Converts between HTTP method and scheme strings and the <c>method</c>/<c>scheme</c> variant values.</summary>
public static class HttpVariants
{
    private static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

    /// <summary>The <c>method</c> value of <paramref name="method"/> (standard methods by case, others as <c>other</c>).</summary>
    public static VariantValue MethodValue(string method)
    {
        var i = Array.IndexOf(Methods, method);
        return i >= 0 ? new VariantValue(i) : new VariantValue(Methods.Length, method);
    }

    /// <summary>The method string of a <c>method</c> value, or null if it is not a valid method token.</summary>
    public static string? MethodString(object? value) => value switch
    {
        VariantValue { Case: >= 0 and < 9 } v => Methods[v.Case],
        VariantValue { Case: 9, Payload: string s } when Fields.IsValidName(s) => s,
        _ => null,
    };

    /// <summary>The <c>scheme</c> value of <paramref name="scheme"/>.</summary>
    public static VariantValue SchemeValue(string scheme) => scheme.ToLowerInvariant() switch
    {
        "http" => new VariantValue(0),
        "https" => new VariantValue(1),
        _ => new VariantValue(2, scheme),
    };

    /// <summary>The scheme string of a <c>scheme</c> value, or null if it is not valid.</summary>
    public static string? SchemeString(object? value) => value switch
    {
        VariantValue { Case: 0 } => "http",
        VariantValue { Case: 1 } => "https",
        VariantValue { Case: 2, Payload: string s } when s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.') => s,
        _ => null,
    };
}
