using System.Text;
using System.Text.Json;
using Spindle.Trigger.Tests.Routing;

namespace Spindle.Trigger.Tests.Support;

/// <summary>Writes a spin.toml for a route vector: each component name gets a kebab id, static ones a static_response.</summary>
internal static class VectorManifest
{
    public static (TempApp App, Dictionary<string, string> NameOfTarget) Create(JsonElement v)
    {
        var sb = new StringBuilder("spin_manifest_version = 2\n[application]\nname = \"vector\"\nversion = \"0.0.1\"\n");
        var basePath = v.Str("base")!;
        if (basePath != "/" || v.Bool("base_explicit"))
            sb.Append($"[application.trigger.http]\nbase = {Quote(basePath)}\n");
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var wasm = new List<string>();
        var i = 0;
        foreach (var r in v.GetProperty("routes").EnumerateArray())
        {
            i++;
            sb.Append("[[trigger.http]]\n");
            var route = r.GetProperty("route");
            sb.Append(route.ValueKind == JsonValueKind.String
                ? $"route = {Quote(route.GetString()!)}\n"
                : $"route = {{ private = {(route.GetProperty("private").GetBoolean() ? "true" : "false")} }}\n");
            var comp = r.GetProperty("component");
            if (comp.ValueKind == JsonValueKind.String)
            {
                var name = comp.GetString()!;
                if (RouteVectors.IsStatic(name))
                {
                    var (status, body, location) = RouteVectors.ParseStatic(name);
                    var headers = location is null ? "" : $", headers = {{ location = {Quote(location)} }}";
                    sb.Append($"id = \"static{i}\"\nstatic_response = {{ status_code = {status}, body = {Quote(body)}{headers} }}\n");
                    names[$"static{i}"] = name;
                }
                else
                {
                    if (!ids.TryGetValue(name, out var id))
                    {
                        id = ids[name] = $"c{ids.Count + 1}";
                        names[id] = name;
                        wasm.Add(id + ".wasm");
                    }
                    sb.Append($"component = \"{id}\"\n");
                }
            }
            if (r.TryGetProperty("static_response", out var sr))
                sb.Append($"static_response = {{ status_code = {sr.GetProperty("status_code").GetInt32()} }}\n");
            if (r.TryGetProperty("executor", out var ex))
                sb.Append("executor = { " + string.Join(", ", ex.EnumerateObject().Select(p =>
                    $"{p.Name} = {(p.Value.ValueKind == JsonValueKind.String ? Quote(p.Value.GetString()!) : p.Value.GetRawText())}")) + " }\n");
        }
        foreach (var (name, id) in ids)
            sb.Append($"[component.{id}]\nsource = \"{id}.wasm\"\n");
        return (new TempApp(sb.ToString(), wasm.ToArray()), names);
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
