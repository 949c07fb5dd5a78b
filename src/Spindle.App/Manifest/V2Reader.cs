using System.Text.RegularExpressions;
using Spindle.App.Files;
using Spindle.App.Model;
using Spindle.App.Variables;
using Tomlyn.Model;

namespace Spindle.App.Manifest;

/// <summary>Maps a v2-layout TOML document to the <see cref="SpinApp"/> model (the rules of Spin's v2 schema).</summary>
internal sealed partial class V2Reader(TomlNode root, ManifestFile file, string path, int version, ManifestLoadOptions options)
{
    private static readonly string[] ComponentKeys =
    [
        "source", "description", "files", "exclude_files", "allowed_outbound_hosts", "allowed_http_hosts",
        "environment", "variables", "key_value_stores", "sqlite_databases", "ai_models", "targets", "build", "tool",
        "dependencies", "dependencies_inherit_configuration", "profile",
    ];

    private readonly List<string> _warnings = [];
    private readonly string _appDir = Path.GetDirectoryName(path)!;

    [GeneratedRegex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$")]
    private static partial Regex KebabId();

    public SpinApp Read()
    {
        root.DenyUnknownKeys("spin_manifest_version", "application", "variables", "trigger", "component");

        var application = root.OptTable("application") ?? throw root.Error("application", "missing required table [application]");
        application.DenyUnknownKeys("name", "version", "description", "authors", "targets", "trigger", "tool");
        var name = application.String("name");
        var httpBase = ReadBase(application);

        var variables = ReadVariables();
        var components = new Dictionary<string, AppComponent>(StringComparer.Ordinal);
        var componentTables = root.OptTable("component");
        if (componentTables is not null)
            foreach (var id in componentTables.Keys)
            {
                if (!KebabId().IsMatch(id))
                    throw componentTables.Error(id, "component id must be kebab-case (lower-case letters, digits, single '-')", id);
                components[id] = ReadComponent(componentTables.OptTable(id)!, id, variables);
            }

        var triggers = ReadTriggers(components, variables);
        return new SpinApp(
            path, version, name, application.OptString("version"), application.OptString("description"),
            application.OptStringList("authors") ?? [], httpBase, variables, triggers, components, _warnings,
            file.Locations);
    }

    private string ReadBase(TomlNode application)
    {
        var trigger = application.OptTable("trigger");
        if (trigger is null) return "/";
        foreach (var key in trigger.Keys)
            if (key != "http")
                throw trigger.Error(key, $"trigger type '{key}' is not supported by Spindle (only 'http')", trigger.Raw(key));
        var http = trigger.OptTable("http");
        if (http is null) return "/";
        http.DenyUnknownKeys("base");
        var b = http.OptString("base");
        if (b is null) return "/";
        if (b == "/")
            _warnings.Add($"{path}: application.trigger.http.base = \"/\" is deprecated and can be removed");
        return b.StartsWith('/') ? b : "/" + b;
    }

    private Dictionary<string, VariableDeclaration> ReadVariables()
    {
        var result = new Dictionary<string, VariableDeclaration>(StringComparer.Ordinal);
        var table = root.OptTable("variables");
        if (table is null) return result;
        foreach (var name in table.Keys)
        {
            if (!VariableNames.IsValid(name))
                throw table.Error(name, "variable names must be lower snake case (a-z, 0-9, '_', starting with a letter)", name);
            var v = table.OptTable(name)!;
            v.DenyUnknownKeys("default", "required", "secret", "description");
            var def = v.OptString("default");
            var required = v.OptBool("required") ?? false;
            var secret = v.OptBool("secret") ?? false;
            // A secret's default must not reach logs through an error message.
            object shown = secret && def is not null ? "{ default = <secret>, ... }" : table.Raw(name)!;
            if (required && def is not null)
                throw table.Error(name, "a variable cannot be both required and have a default", shown);
            if (!required && def is null)
                throw table.Error(name, "a variable must have a default or be required = true", shown);
            result[name] = new VariableDeclaration(name, def, required, secret, v.OptString("description"));
        }
        return result;
    }

    private AppComponent ReadComponent(TomlNode c, string id, IReadOnlyDictionary<string, VariableDeclaration> appVariables)
    {
        c.DenyUnknownKeys(ComponentKeys);
        var source = ReadSource(c);

        if (c.Raw("dependencies") is TomlTable deps && deps.Count > 0)
            throw c.Error("dependencies", "component dependencies are not supported by Spindle", deps);
        if (c.OptStringList("ai_models") is { Count: > 0 } models)
            _warnings.Add($"{path}: component.{id}.ai_models: AI models are not available in Spindle ({string.Join(", ", models)})");

        var env = new Dictionary<string, string>(c.StringMap("environment"), StringComparer.Ordinal);
        foreach (var (k, v) in options.EnvironmentOverrides) env[k] = v;

        var vars = c.StringMap("variables");
        var varsNode = c.OptTable("variables");
        foreach (var (key, value) in vars)
        {
            if (!VariableNames.IsValid(key))
                throw varsNode!.Error(key, "variable names must be lower snake case", key);
            Template t;
            try { t = Template.Parse(value); }
            catch (TemplateException e) { throw varsNode!.Error(key, e.Problem, value); }
            foreach (var r in t.References)
                if (!appVariables.ContainsKey(r))
                    throw varsNode!.Error(key, $"references undefined variable '{r}' (declare it under [variables])", value);
        }

        var allowedOutbound = c.OptStringList("allowed_outbound_hosts");
        var allowedHttp = c.OptStringList("allowed_http_hosts") ?? [];
        c.Remember("allowed_outbound_hosts");
        c.Remember("allowed_http_hosts");
        if (allowedHttp.Count > 0)
            _warnings.Add($"{path}: component.{id}.allowed_http_hosts is deprecated: use allowed_outbound_hosts");

        return new AppComponent(
            id, source, c.OptString("description"), FileMountResolver.Resolve(c, _appDir), env,
            allowedOutbound, allowedHttp, vars,
            c.OptStringList("key_value_stores") ?? [], c.OptStringList("sqlite_databases") ?? []);
    }

    private string ReadSource(TomlNode c)
    {
        switch (c.Raw("source"))
        {
            case null:
                throw c.Error("source", "missing required key");
            case TomlTable t when t.ContainsKey("url"):
                throw c.Error("source", "remote sources ({ url, digest }) are not supported by Spindle: download the file and give its path", t);
            case TomlTable t:
                throw c.Error("source", "registry package sources are not supported by Spindle: give a path to a .wasm file", t);
            case string s when s.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || s.StartsWith("https://", StringComparison.OrdinalIgnoreCase):
                throw c.Error("source", "URL sources are not supported by Spindle: download the file and give its path", s);
            case string s:
                var full = Path.GetFullPath(Path.Combine(_appDir, s));
                try
                {
                    using var _ = File.OpenRead(full);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    var why = File.Exists(full) ? $"cannot read '{full}': {e.Message}"
                        : Directory.Exists(full) ? $"cannot read '{full}': it is a folder, not a .wasm file"
                        : $"file not found: '{full}'";
                    throw c.Error("source", why, s);
                }
                return full;
            case var v:
                throw c.Error("source", "expected a path string", v);
        }
    }

    private List<HttpTrigger> ReadTriggers(Dictionary<string, AppComponent> components, IReadOnlyDictionary<string, VariableDeclaration> appVariables)
    {
        var result = new List<HttpTrigger>();
        var trigger = root.OptTable("trigger");
        if (trigger is null) return result;
        foreach (var key in trigger.Keys)
            if (key != "http")
                throw trigger.Error(key, $"trigger type '{key}' is not supported by Spindle (only 'http')", trigger.Raw(key));
        var http = trigger.Raw("http");
        if (http is null) return result;
        if (http is not TomlTableArray array)
            throw trigger.Error("http", "expected an array of tables ([[trigger.http]])", http);

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < array.Count; i++)
        {
            var t = root.Child(array[i], $"trigger.http[{i}]");
            t.DenyUnknownKeys("id", "route", "component", "executor", "static_response");
            var explicitId = t.OptString("id");

            var componentId = t.Raw("component") switch
            {
                null => null,
                string s => components.ContainsKey(s) ? s : throw t.Error("component", $"no component with id '{s}' ([component.{s}] is missing)", s),
                TomlTable inline => AddInline(t, inline, explicitId, i, components, appVariables),
                var v => throw t.Error("component", "expected a component id or an inline component table", v),
            };
            var staticResponse = ReadStaticResponse(t);
            var displayId = explicitId ?? componentId ?? $"http-trigger{i + 1}";
            if (componentId is not null && staticResponse is not null)
                throw t.Error($"Triggers must specify either component or static_response - {displayId} has both");
            if (componentId is null && staticResponse is null)
                throw t.Error($"Triggers must specify either component or static_response - {displayId} has neither");

            var id = explicitId ?? (componentId is not null ? $"{componentId}-http-trigger" : $"http-trigger{i + 1}");
            if (!ids.Add(id))
                throw t.Error("id", $"duplicate trigger id '{id}'", id);

            var route = ReadRoute(t, componentId ?? id);
            t.Remember("route");
            var executor = ReadExecutor(t, componentId ?? id);
            result.Add(new HttpTrigger(id, i, route, componentId, staticResponse, executor));
        }
        return result;
    }

    private string AddInline(TomlNode trigger, TomlTable inline, string? triggerId, int index,
        Dictionary<string, AppComponent> components, IReadOnlyDictionary<string, VariableDeclaration> appVariables)
    {
        var id = triggerId is not null ? $"{triggerId}-component" : $"inline-component{index + 1}";
        if (components.ContainsKey(id))
            throw trigger.Error("component", $"inline component id '{id}' clashes with [component.{id}]", inline);
        components[id] = ReadComponent(trigger.OptTable("component")!, id, appVariables);
        return id;
    }

    private static TriggerRoute ReadRoute(TomlNode t, string owner) => t.Raw("route") switch
    {
        null => throw t.Error("route", "missing required key (a route string or { private = true })"),
        string s => new TriggerRoute(s),
        TomlTable p => ReadPrivate(t, p, owner),
        var v => throw t.Error("route", "route must be a string pattern or '{ private = true }'", v),
    };

    private static TriggerRoute ReadPrivate(TomlNode t, TomlTable p, string owner)
    {
        var node = t.OptTable("route")!;
        node.DenyUnknownKeys("private");
        return node.OptBool("private") == true
            ? TriggerRoute.Private
            : throw t.Error("route", $"route must be a string pattern or '{{ private = true }}': '{owner}' has {{ private = false }}", p);
    }

    private static ExecutorConfig ReadExecutor(TomlNode t, string owner)
    {
        var e = t.OptTable("executor");
        if (e is null) return ExecutorConfig.Default;
        var type = e.String("type");
        switch (type)
        {
            case "spin" or "http":
                e.DenyUnknownKeys("type");
                return ExecutorConfig.Default with { TypeName = type };
            case "wagi":
                e.DenyUnknownKeys("type", "argv", "entrypoint");
                return new ExecutorConfig(ExecutorKind.Wagi, type,
                    e.OptString("argv") ?? ExecutorConfig.DefaultWagiArgv,
                    e.OptString("entrypoint") ?? ExecutorConfig.DefaultWagiEntrypoint);
            default:
                throw e.Error("type", $"unknown executor type for '{owner}' (expected \"spin\", \"http\" or \"wagi\")", type);
        }
    }

    /// <summary>RFC 9110 token characters.</summary>
    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c);

    private static StaticResponse? ReadStaticResponse(TomlNode t)
    {
        var s = t.OptTable("static_response");
        if (s is null) return null;
        s.DenyUnknownKeys("status_code", "headers", "body");
        var status = s.OptInteger("status_code") ?? 200;
        if (status is < 100 or > 999)
            throw s.Error("status_code", "must be an HTTP status between 100 and 999", status);
        var headers = s.StringMap("headers").ToList();
        var headersNode = s.OptTable("headers");
        foreach (var (name, value) in headers)
        {
            // Checked now so a bad header stops startup instead of failing every request to the route.
            if (name.Length == 0 || !name.All(IsTokenChar))
                throw headersNode!.Error(name, "invalid HTTP header name", name);
            if (value.Any(c => c is '\r' or '\n' or '\0'))
                throw headersNode!.Error(name, "HTTP header values cannot contain line breaks", value);
        }
        return new StaticResponse((int)status, headers, s.OptString("body") ?? "");
    }
}
