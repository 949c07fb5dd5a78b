namespace Spindle.Components.Binary;

/// <summary>What planning needs to know about a core module: its imports, in order, with their kinds, and its export names.</summary>
internal sealed class CoreModuleInfo
{
    public required ReadOnlyMemory<byte> Bytes { get; init; }
    public required (string Module, string Name, CoreSort Kind)[] Imports { get; init; }

    /// <summary>The names of its exports.</summary>
    public required IReadOnlySet<string> Exports { get; init; }

    /// <summary>The module has a start section: instantiating it runs guest code.</summary>
    public bool HasStart { get; init; }

    /// <summary>Reads the import and export sections of a core module (the rest is left to Wasmtime).</summary>
    public static CoreModuleInfo Read(ReadOnlyMemory<byte> bytes, int baseOffset)
    {
        var c = new BinaryCursor(bytes, baseOffset, "core module");
        if (bytes.Length < 8 || c.ReadBytes(4).Span.SequenceCompareTo("\0asm"u8) != 0)
            throw c.Error("nested core module has no wasm magic");
        c.Skip(4);
        var imports = new List<(string, string, CoreSort)>();
        var exports = new HashSet<string>(StringComparer.Ordinal);
        var hasStart = false;
        while (!c.AtEnd)
        {
            var id = c.ReadByte();
            var size = c.ReadIndex();
            var body = c.Sub(size, "core module");
            hasStart |= id == 8;
            if (id == 7)
            {
                body.Section = "core module export";
                var count = body.ReadCount();
                for (var i = 0; i < count; i++)
                {
                    exports.Add(body.ReadName());
                    body.ReadByte(); // kind
                    body.ReadIndex();
                }
                continue;
            }
            if (id != 2) continue;
            body.Section = "core module import";
            var n = body.ReadCount();
            for (var i = 0; i < n; i++)
            {
                var module = body.ReadName();
                var name = body.ReadName();
                var kind = body.PeekByte();
                if (kind > 0x03) throw body.Error($"core import kind 0x{kind:x2} ({module}.{name}) is not supported");
                CoreTypeSkipper.SkipImportDesc(body);
                imports.Add((module, name, (CoreSort)kind));
            }
        }
        return new CoreModuleInfo { Bytes = bytes, Imports = imports.ToArray(), Exports = exports, HasStart = hasStart };
    }
}
