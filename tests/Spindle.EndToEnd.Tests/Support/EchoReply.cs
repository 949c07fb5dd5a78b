using System.Text.Json;

namespace Spindle.EndToEnd.Tests.Support;

/// <summary>What the echo fixture (tests/fixtures/js/echo.js) answers: method, URL, headers, body.</summary>
public sealed record EchoReply(string Method, string Url, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body)
{
    /// <summary>The value of header <paramref name="name"/> (names are lower case in the guest), or null.</summary>
    public string? Header(string name) => Headers.Where(h => h.Key == name).Select(h => h.Value).FirstOrDefault();

    /// <summary>Parses the JSON the echo guest wrote.</summary>
    public static EchoReply Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var headers = root.GetProperty("headers").EnumerateArray()
            .Select(h => new KeyValuePair<string, string>(h[0].GetString()!, h[1].GetString()!)).ToList();
        return new EchoReply(root.GetProperty("method").GetString()!, root.GetProperty("url").GetString()!, headers,
            root.GetProperty("body").GetString()!);
    }
}
