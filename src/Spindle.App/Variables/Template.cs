using System.Text;

namespace Spindle.App.Variables;

/// <summary>
/// A string with <c>{{ name }}</c> references to application variables (spaces inside the braces optional), as
/// used by component <c>variables</c> and <c>allowed_outbound_hosts</c>. Parsed once, expanded per lookup.
/// </summary>
public sealed class Template
{
    private readonly IReadOnlyList<(string? Literal, string? Variable)> _parts;

    private Template(string source, IReadOnlyList<(string?, string?)> parts)
    {
        Source = source;
        _parts = parts;
        References = parts.Where(p => p.Item2 is not null).Select(p => p.Item2!).Distinct().ToList();
    }

    /// <summary>The template text as written.</summary>
    public string Source { get; }

    /// <summary>The variable names referenced, in first-use order.</summary>
    public IReadOnlyList<string> References { get; }

    /// <summary>Whether the text has any <c>{{ }}</c> reference.</summary>
    public bool HasReferences => References.Count > 0;

    /// <summary>Parses <paramref name="text"/>; throws <see cref="TemplateException"/> for an unmatched <c>{{</c> or a bad name.</summary>
    public static Template Parse(string text)
    {
        var parts = new List<(string?, string?)>();
        var i = 0;
        while (i < text.Length)
        {
            var open = text.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0) { parts.Add((text[i..], null)); break; }
            if (open > i) parts.Add((text[i..open], null));
            var close = text.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0) throw new TemplateException(text, "unmatched '{{' in template");
            var name = text[(open + 2)..close].Trim();
            if (!VariableNames.IsValid(name))
                throw new TemplateException(text, $"invalid variable name '{name}' in template (lower snake case expected)");
            parts.Add((null, name));
            i = close + 2;
        }
        return new Template(text, parts);
    }

    /// <summary>Parses <paramref name="text"/>, or returns <c>null</c> when it is not a valid template.</summary>
    public static Template? TryParse(string text)
    {
        try { return Parse(text); }
        catch (TemplateException) { return null; }
    }

    /// <summary>Replaces every reference with <paramref name="lookup"/>'s value (which throws for unknown names).</summary>
    public string Expand(Func<string, string> lookup)
    {
        var sb = new StringBuilder();
        foreach (var (lit, name) in _parts)
            sb.Append(lit ?? lookup(name!));
        return sb.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => Source;
}

/// <summary>A template that cannot be parsed.</summary>
public sealed class TemplateException(string template, string problem)
    : Exception($"invalid template \"{template}\": {problem}")
{
    /// <summary>The template text.</summary>
    public string TemplateText { get; } = template;

    /// <summary>What is wrong.</summary>
    public string Problem { get; } = problem;
}

/// <summary>Spin's variable name rule: lower snake case, starting with a letter, no double or trailing underscore.</summary>
public static class VariableNames
{
    /// <summary>Whether <paramref name="name"/> is a valid variable name.</summary>
    public static bool IsValid(string name)
    {
        if (name.Length == 0 || name[0] is < 'a' or > 'z') return false;
        if (name.EndsWith('_') || name.Contains("__", StringComparison.Ordinal)) return false;
        foreach (var c in name)
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '_')) return false;
        return true;
    }
}
