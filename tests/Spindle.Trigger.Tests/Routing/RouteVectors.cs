using System.Text.Json;
using Spindle.Testing;

namespace Spindle.Trigger.Tests.Routing;

/// <summary>shared/conformance/route-vectors.json, loaded once.</summary>
internal static class RouteVectors
{
    public static readonly JsonElement[] All = JsonDocument
        .Parse(File.ReadAllText(Path.Combine(Paths.Conformance, "route-vectors.json")))
        .RootElement.EnumerateArray().ToArray();

    public static TheoryData<int, string> Where(Func<JsonElement, bool> predicate)
    {
        var data = new TheoryData<int, string>();
        for (var i = 0; i < All.Length; i++)
            if (predicate(All[i]))
                data.Add(i, Describe(All[i]));
        return data;
    }

    public static string Describe(JsonElement v)
    {
        var routes = string.Join(" ", v.GetProperty("routes").EnumerateArray().Select(r =>
            r.GetProperty("route").ValueKind == JsonValueKind.String ? r.GetProperty("route").GetString() : r.GetProperty("route").GetRawText()));
        var path = v.TryGetProperty("request_path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : "(startup)";
        return $"base {v.GetProperty("base").GetString()} [{routes}] {path}";
    }

    public static bool Bool(this JsonElement v, string name) =>
        v.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.True;

    public static string? Str(this JsonElement v, string name) =>
        v.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    public static bool IsStatic(string component) => component.StartsWith('<');

    /// <summary>The vectors describe static responses as "&lt;static_response 404 'not found'&gt;", "... body 'x'", "... 302 location=/y".</summary>
    public static (int Status, string Body, string? Location) ParseStatic(string component)
    {
        var inner = component.Trim('<', '>')["static_response".Length..].Trim();
        var status = 200;
        string body = "";
        string? location = null;
        foreach (var token in System.Text.RegularExpressions.Regex.Matches(inner, @"'[^']*'|\S+").Select(m => m.Value))
        {
            if (token.StartsWith('\'')) body = token.Trim('\'');
            else if (int.TryParse(token, out var s)) status = s;
            else if (token.StartsWith("location=", StringComparison.Ordinal)) location = token["location=".Length..];
        }
        return (status, body, location);
    }
}
