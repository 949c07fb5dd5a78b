using Spindle.App.Model;

namespace Spindle.App.Variables;

/// <summary>
/// Resolves application variables (providers in order, then the manifest default) and component variables (their
/// templates expanded). This is what a component's <c>fermyon:spin/variables</c> / <c>spin:variables</c> import
/// calls. Values of secret variables never appear in exceptions or logs.
/// </summary>
public sealed class VariableResolver
{
    private readonly SpinApp _app;
    private readonly IReadOnlyList<IVariableProvider> _providers;
    private readonly Dictionary<string, Dictionary<string, Template>> _componentTemplates;

    private VariableResolver(SpinApp app, IReadOnlyList<IVariableProvider> providers)
    {
        _app = app;
        _providers = providers;
        _componentTemplates = app.Components.Values.ToDictionary(
            c => c.Id,
            c => c.Variables.ToDictionary(kv => kv.Key, kv => Template.Parse(kv.Value), StringComparer.Ordinal),
            StringComparer.Ordinal);
    }

    /// <summary>
    /// Creates the resolver and checks at once that every required variable has a value, so a missing value stops
    /// startup instead of failing a request later.
    /// </summary>
    /// <exception cref="VariableException">A required variable has no value.</exception>
    public static VariableResolver Create(SpinApp app, IEnumerable<IVariableProvider> providers)
    {
        var resolver = new VariableResolver(app, providers.ToList());
        foreach (var v in app.Variables.Values)
            if (resolver.TryGetAppVariable(v.Name) is null)
                throw new VariableException(v.Name,
                    $"{app.ManifestPath}: variables.{v.Name}: required variable has no value " +
                    $"(set SPIN_VARIABLE_{v.Name.ToUpperInvariant()} or pass --variable {v.Name}=VALUE)");
        return resolver;
    }

    /// <summary>The application the variables belong to.</summary>
    public SpinApp App => _app;

    /// <summary>Whether <paramref name="name"/> is declared secret.</summary>
    public bool IsSecret(string name) => _app.Variables.TryGetValue(name, out var d) && d.Secret;

    /// <summary>An application variable's value, or <c>null</c> when undeclared or without a value.</summary>
    public string? TryGetAppVariable(string name)
    {
        if (!_app.Variables.TryGetValue(name, out var decl)) return null;
        foreach (var p in _providers)
            if (p.Get(name) is { } v) return v;
        return decl.Default;
    }

    /// <summary>An application variable's value.</summary>
    /// <exception cref="VariableException">Undeclared, or no value.</exception>
    public string GetAppVariable(string name) =>
        TryGetAppVariable(name) ?? throw new VariableException(name,
            _app.Variables.ContainsKey(name) ? $"variable '{name}' has no value" : $"no variable named '{name}'");

    /// <summary>Expands a template against the application variables.</summary>
    public string Expand(Template template) => template.Expand(GetAppVariable);

    /// <summary>
    /// A component variable (<c>[component.x] variables = { key = "{{ app_var }}" }</c>): the template expanded.
    /// Returns <c>null</c> when the component declares no such key (Spin reports "undefined" to the guest).
    /// </summary>
    /// <exception cref="VariableException">A referenced application variable has no value.</exception>
    public string? GetComponentVariable(string componentId, string key)
    {
        if (!_componentTemplates.TryGetValue(componentId, out var vars) || !vars.TryGetValue(key, out var template))
            return null;
        return Expand(template);
    }

    /// <summary>Whether the component's variable <paramref name="key"/> depends on a secret.</summary>
    public bool IsComponentVariableSecret(string componentId, string key) =>
        _componentTemplates.TryGetValue(componentId, out var vars) && vars.TryGetValue(key, out var t)
        && t.References.Any(IsSecret);
}

/// <summary>A variable cannot be resolved. The message names the variable, never a value.</summary>
public sealed class VariableException(string name, string message) : Exception(message)
{
    /// <summary>The variable name.</summary>
    public string Name { get; } = name;
}
