using Spindle.App.Model;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;
using Tomlyn.Serialization;
using Tomlyn.Syntax;

namespace Spindle.App.Manifest;

/// <summary>
/// Reads TOML text into Tomlyn's untyped model (<see cref="TomlTable"/>, <see cref="TomlTableArray"/> for
/// <c>[[header]]</c> arrays, <see cref="TomlArray"/> for <c>[...]</c> values, inline tables as inline
/// <see cref="TomlTable"/>s, and <c>string</c>/<c>long</c>/<c>double</c>/<c>bool</c>/<see cref="Tomlyn.TomlDateTime"/>
/// scalars), recording where each key is written in a <see cref="TomlMetadataStore"/> for error messages.
/// </summary>
/// <remarks>
/// The model is built here from Tomlyn's syntax tree rather than by
/// <c>TomlSerializer.Deserialize&lt;TomlTable&gt;</c>: Tomlyn 2.10/2.11 replace an array of tables that is reopened
/// after another table (<c>[[trigger.http]]</c> … <c>[component.a]</c> … <c>[[trigger.http]]</c>, the layout
/// <c>spin add</c> writes), silently keeping only the last run of elements. Its event stream cannot be regrouped
/// afterwards either: a reopened <c>[[a]]</c> and a <c>[a.b]</c> under the last element of <c>a</c> emit the same
/// events. The syntax tree keeps every header as written, so TOML's table rules are applied here, in document order.
/// </remarks>
internal static class TomlDocument
{
    /// <summary>Deeper nesting is refused, as by Tomlyn's deserializer (its default <c>MaxDepth</c>).</summary>
    internal const int MaxDepth = 64;

    /// <summary>
    /// Parses <paramref name="text"/>; any invalid TOML (syntax, duplicate keys, redefined tables) is a
    /// <see cref="ManifestException"/> "invalid TOML: …" at the offending line and column.
    /// </summary>
    public static TomlTable Parse(string text, string file, TomlMetadataStore store)
    {
        // The parser checks the grammar; TOML's key and table rules (no key or table defined twice, no adding to inline
        // tables or static arrays...) are checked by the builder as it places each key. Not by Tomlyn's validator
        // (validate: true): it tracks array-of-tables elements off by one and refuses valid documents, e.g. a dotted
        // `executor.type = "spin"` in a [[trigger.http]] after an earlier element's [trigger.http.executor].
        DocumentSyntax syntax;
        try
        {
            syntax = SyntaxParser.Parse(text, file, validate: false);
        }
        catch (TomlException e)
        {
            // The parser reports most problems as diagnostics but throws for some (nesting beyond MaxDepth).
            SourceLocation? at = e.Line is > 0 ? new SourceLocation(e.Line.Value, e.Column ?? 0) : null;
            throw new ManifestException(file, null, null, at, "invalid TOML: " + e.Message.Split('\n')[0], e);
        }
        if (syntax.HasErrors)
        {
            var d = syntax.Diagnostics.First(x => x.Kind == DiagnosticMessageKind.Error);
            throw new ManifestException(file, null, null, At(d.Span), "invalid TOML: " + d.Message);
        }
        return new Builder(file, store).Build(syntax);
    }

    /// <summary>Tomlyn positions are 0-based; editors and compilers count from 1.</summary>
    private static SourceLocation At(SourceSpan span) => new(span.Start.Line + 1, span.Start.Column + 1);

    private sealed class Builder(string file, TomlMetadataStore store)
    {
        /// <summary>How a table came to exist, which decides what may add to it later.</summary>
        private enum Origin
        {
            /// <summary>Created on the way to a header (<c>a</c> for <c>[a.b]</c>): a header may still define it once.</summary>
            Implicit,

            /// <summary>Defined by its own <c>[header]</c> or as an element of a <c>[[header]]</c> array.</summary>
            Header,

            /// <summary>Created by a dotted key (<c>a.b = 1</c>): more dotted keys may add to it, a header may not define it.</summary>
            Dotted,

            /// <summary>An inline table or anything inside one: closed once written.</summary>
            Inline,
        }

        private readonly Dictionary<TomlTable, Origin> _origins = new(ReferenceEqualityComparer.Instance);

        public TomlTable Build(DocumentSyntax document)
        {
            var root = NewTable(Origin.Header, inline: false);
            foreach (var kv in document.KeyValues)
                AddKeyValue(root, "", kv, depth: 1);
            foreach (var header in document.Tables)
            {
                var (table, path, depth) = OpenHeader(root, header);
                foreach (var kv in header.Items)
                    AddKeyValue(table, path, kv, depth + 1);
            }
            return root;
        }

        /// <summary>Resolves a <c>[a.b.c]</c> or <c>[[a.b.c]]</c> header to the table its key/values go into.</summary>
        private (TomlTable Table, string Path, int Depth) OpenHeader(TomlTable root, TableSyntaxBase header)
        {
            var keys = Keys(header.Name ?? throw Invalid(header.Span, "table header without a name"));
            var isArray = header is TableArraySyntax;
            var table = root;
            var path = "";
            for (var i = 0; i < keys.Count; i++)
            {
                var (name, keySyntax) = keys[i];
                path = Join(path, name);
                CheckDepth(i + 1, keySyntax.Span);
                var last = i == keys.Count - 1;
                if (!table.TryGetValue(name, out var existing))
                {
                    Define(table, name, keySyntax.Span);
                    if (last && isArray)
                    {
                        var element = NewTable(Origin.Header, inline: false);
                        table[name] = new TomlTableArray { element };
                        return (element, path + "[0]", i + 1);
                    }
                    var created = NewTable(last ? Origin.Header : Origin.Implicit, inline: false);
                    table[name] = created;
                    table = created;
                    continue;
                }

                switch (existing)
                {
                    // [[a]] again: a new element (the reopening Tomlyn's deserializer loses).
                    case TomlTableArray array when last && isArray:
                        var element = NewTable(Origin.Header, inline: false);
                        array.Add(element);
                        return (element, $"{path}[{array.Count - 1}]", i + 1);
                    // [a.b] or [[a.b]] with a an array of tables: b belongs to a's last element.
                    case TomlTableArray array when !last && array.Count > 0:
                        path = $"{path}[{array.Count - 1}]";
                        table = array[array.Count - 1];
                        continue;
                    case TomlTable t when !last && _origins[t] != Origin.Inline:
                        table = t;
                        continue;
                    case TomlTable t when last && !isArray && _origins[t] == Origin.Implicit:
                        _origins[t] = Origin.Header;
                        return (t, path, i + 1);
                    default:
                        throw AlreadyDefined(table, name, path, existing, keySyntax.Span);
                }
            }
            return (table, path, keys.Count);
        }

        /// <summary>
        /// Adds <c>a.b.c = value</c> to <paramref name="table"/> (a header's table, the root, or an inline table), whose
        /// keys sit at nesting level <paramref name="depth"/>.
        /// </summary>
        private void AddKeyValue(TomlTable table, string path, KeyValueSyntax kv, int depth)
        {
            var keys = Keys(kv.Key ?? throw Invalid(kv.Span, "key/value without a key"));
            for (var i = 0; i < keys.Count; i++)
            {
                var (name, keySyntax) = keys[i];
                path = Join(path, name);
                CheckDepth(depth + i, keySyntax.Span);
                table.TryGetValue(name, out var existing);
                if (i == keys.Count - 1)
                {
                    if (existing is not null)
                        throw AlreadyDefined(table, name, path, existing, keySyntax.Span);
                    Define(table, name, keySyntax.Span);
                    table[name] = Value(kv.Value ?? throw Invalid(kv.Span, $"the key `{path}` has no value"), path, depth + i);
                    return;
                }

                switch (existing)
                {
                    case null:
                        Define(table, name, keySyntax.Span);
                        // Like Tomlyn's deserializer: tables made by dotted keys are plain tables, even inside braces.
                        var created = NewTable(Origin.Dotted, inline: false);
                        table[name] = created;
                        table = created;
                        break;
                    // Dotted keys extend tables they created, and tables only implied by a header so far; never a
                    // table that a header defined, an inline table, or an array.
                    case TomlTable t when _origins[t] is Origin.Dotted or Origin.Implicit:
                        _origins[t] = Origin.Dotted;
                        table = t;
                        break;
                    default:
                        throw AlreadyDefined(table, name, path, existing, keySyntax.Span);
                }
            }
        }

        private object Value(ValueSyntax value, string path, int depth)
        {
            CheckDepth(depth, value.Span);
            switch (value)
            {
                case StringValueSyntax s:
                    return s.Value ?? throw Invalid(value.Span, $"the string at `{path}` has no value");
                case IntegerValueSyntax i:
                    return i.Value;
                case FloatValueSyntax f:
                    return f.Value;
                case BooleanValueSyntax b:
                    return b.Value;
                case DateTimeValueSyntax d:
                    return d.Value;
                case ArraySyntax a:
                    var array = new TomlArray();
                    foreach (var item in a.Items)
                        array.Add(Value(item.Value ?? throw Invalid(item.Span, $"an element of `{path}` has no value"),
                            $"{path}[{array.Count}]", depth + 1));
                    return array;
                case InlineTableSyntax t:
                    var table = NewTable(Origin.Inline, inline: true);
                    // Dotted keys inside may add to the tables they create while the braces are open...
                    foreach (var item in t.Items)
                        AddKeyValue(table, path, item.KeyValue ?? throw Invalid(item.Span, $"an entry of `{path}` has no key"), depth + 1);
                    // ...and nothing may add to any of them afterwards.
                    Seal(table);
                    return table;
                default:
                    throw Invalid(value.Span, $"unsupported value `{value}` for `{path}`");
            }
        }

        private void Seal(TomlTable table)
        {
            _origins[table] = Origin.Inline;
            foreach (var (_, v) in table)
                if (v is TomlTable t)
                    Seal(t);
        }

        private TomlTable NewTable(Origin origin, bool inline)
        {
            var table = new TomlTable(inline);
            _origins[table] = origin;
            return table;
        }

        /// <summary>Records where a new <paramref name="key"/> of <paramref name="table"/> is written.</summary>
        private void Define(TomlTable table, string key, SourceSpan span)
        {
            if (!store.TryGetProperties(table, out var metadata) || metadata is null)
                store.SetProperties(table, metadata = new TomlPropertiesMetadata());
            metadata.SetProperty(key, new TomlPropertyMetadata { Span = span });
        }

        private List<(string Name, BareKeyOrStringValueSyntax Syntax)> Keys(KeySyntax key)
        {
            var keys = new List<(string, BareKeyOrStringValueSyntax)>(1 + key.DotKeys.ChildrenCount);
            keys.Add(Part(key.Key, key.Span));
            foreach (var dotted in key.DotKeys)
                keys.Add(Part(dotted.Key, dotted.Span));
            return keys;

            (string, BareKeyOrStringValueSyntax) Part(BareKeyOrStringValueSyntax? part, SourceSpan span) => part switch
            {
                BareKeySyntax { Key.Text: { } text } => (text, part),
                StringValueSyntax { Value: { } text } => (text, part),
                _ => throw new ManifestException(file, null, null, At(span), "invalid TOML: malformed key"),
            };
        }

        private void CheckDepth(int depth, SourceSpan span)
        {
            if (depth > MaxDepth)
                throw Invalid(span, $"nesting is deeper than {MaxDepth} levels");
        }

        private ManifestException AlreadyDefined(TomlTable table, string key, string path, object existing, SourceSpan span)
        {
            var what = existing switch
            {
                TomlTableArray => "an array of tables",
                TomlTable t when _origins[t] == Origin.Inline => "an inline table",
                TomlTable => "a table",
                TomlArray => "an array",
                _ => "a value",
            };
            var first = store.TryGetProperties(table, out var metadata) && metadata is not null && metadata.TryGetProperty(key, out var p)
                ? $" at {At(p.Span)}"
                : "";
            return Invalid(span, $"the key `{path}` is already defined{first} as {what} and cannot be redefined here");
        }

        private ManifestException Invalid(SourceSpan span, string problem) =>
            new(file, null, null, At(span), "invalid TOML: " + problem);

        private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";
    }
}
