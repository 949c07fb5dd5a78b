namespace Spindle.Components.Binary;

/// <summary>
/// A core module prepared so that an instance of it can be put back into its just-instantiated state: the
/// module's bytes with one extra export per defined mutable global and per defined memory (so the host can
/// read and restore them even when the guest does not export them), or the reason that cannot be done.
/// </summary>
/// <remarks>
/// An instance's state is its memories, globals, tables and the dropped-or-not state of its passive segments.
/// Memories and mutable globals are restored by the host. Tables and segments cannot be restored cheaply through
/// Wasmtime's C API, so a module qualifies only when its code cannot change them: no <c>table.set</c>,
/// <c>table.grow</c>, <c>table.fill</c>, <c>table.copy</c>, <c>table.init</c>, <c>elem.drop</c> or
/// <c>data.drop</c>. Code is decoded instruction by instruction; anything the decoder does not know (GC, atomics,
/// exceptions, a future proposal) or a body that does not end exactly at its <c>end</c> makes the module not
/// qualify: the check errs only towards "fresh instance per request".
/// </remarks>
internal sealed class ResettableModule
{
    /// <summary>Prefix of the exports this rewrite adds (followed by <c>global/N</c> or <c>memory/N</c>).</summary>
    public const string ExportPrefix = "spindle:reset/";

    private ResettableModule(byte[] bytes, string[] globals, string[] memories)
    {
        Bytes = bytes;
        GlobalExports = globals;
        MemoryExports = memories;
    }

    /// <summary>The rewritten module.</summary>
    public byte[] Bytes { get; }

    /// <summary>Export names of the module's own mutable globals.</summary>
    public string[] GlobalExports { get; }

    /// <summary>Export names of the module's own memories.</summary>
    public string[] MemoryExports { get; }

    /// <summary>Analyses and rewrites <paramref name="module"/>; null with <paramref name="reason"/> when it does not qualify.</summary>
    public static ResettableModule? TryCreate(ReadOnlySpan<byte> module, out string? reason)
    {
        try
        {
            return Create(module, out reason);
        }
        catch (FormatException e)
        {
            reason = e.Message;
            return null;
        }
    }

    private static ResettableModule? Create(ReadOnlySpan<byte> module, out string? reason)
    {
        reason = null;
        if (module.Length < 8 || !module[..4].SequenceEqual("\0asm"u8)) throw new FormatException("not a core module");
        var sections = new List<(byte Id, int Start, int End)>(); // Start: the id byte; End: past the body
        uint importedGlobals = 0, importedMemories = 0;
        var mutableGlobals = new List<uint>();
        var memories = 0u;
        var r = new WasmReader(module, 8);
        while (!r.AtEnd)
        {
            var start = r.Position;
            var id = r.Byte();
            var size = r.Length();
            var body = r.Position;
            var end = body + size;
            sections.Add((id, start, end));
            var s = new WasmReader(module[..end], body);
            switch (id)
            {
                case 2: // imports
                    for (var n = s.U32(); n > 0; n--)
                    {
                        s.Skip(s.Length());
                        s.Skip(s.Length());
                        switch (s.Byte())
                        {
                            case 0x00: s.U32(); break;
                            case 0x01: s.RefType(); s.Limits(); break;
                            case 0x02: s.Limits(); importedMemories++; break;
                            case 0x03: s.ValType(); s.Byte(); importedGlobals++; break;
                            default: reason = "the module imports a tag or an unknown kind of item"; return null;
                        }
                    }
                    break;
                case 5: // memories
                    for (var n = s.U32(); n > 0; n--)
                    {
                        if ((s.Limits() & 0x02) != 0) { reason = "the module defines a shared memory"; return null; }
                        memories++;
                    }
                    break;
                case 6: // globals
                    for (uint n = s.U32(), i = 0; i < n; i++)
                    {
                        s.ValType();
                        if ((s.Byte() & 1) != 0) mutableGlobals.Add(importedGlobals + i);
                        s.ConstExpr();
                    }
                    break;
                case 10: // code
                    for (var n = s.U32(); n > 0; n--)
                    {
                        var bodyEnd = s.Length() + s.Position;
                        var f = new WasmReader(module[..bodyEnd], s.Position);
                        if (f.FunctionBody() is { } blocker) { reason = blocker; return null; }
                        s = new WasmReader(module[..end], bodyEnd);
                    }
                    break;
                case 13: reason = "the module defines exception tags"; return null;
            }
            r.Skip(size);
        }

        var globals = mutableGlobals.Select(g => $"{ExportPrefix}global/{g}").ToArray();
        var memoryNames = Enumerable.Range(0, (int)memories).Select(m => $"{ExportPrefix}memory/{importedMemories + m}").ToArray();
        var added = new List<(string Name, byte Kind, uint Index)>();
        for (var i = 0; i < globals.Length; i++) added.Add((globals[i], 0x03, mutableGlobals[i]));
        for (var i = 0; i < memoryNames.Length; i++) added.Add((memoryNames[i], 0x02, importedMemories + (uint)i));
        return new ResettableModule(WithExports(module, sections, added), globals, memoryNames);
    }

    /// <summary>Copies the module with <paramref name="added"/> appended to its export section (created if missing).</summary>
    private static byte[] WithExports(ReadOnlySpan<byte> module, List<(byte Id, int Start, int End)> sections, List<(string Name, byte Kind, uint Index)> added)
    {
        if (added.Count == 0) return module.ToArray();
        var existing = sections.FindIndex(s => s.Id == 7);
        uint count = 0;
        ReadOnlySpan<byte> entries = [];
        if (existing >= 0)
        {
            var (_, start, end) = sections[existing];
            var r = new WasmReader(module[..end], start + 1);
            r.U32();
            count = r.U32();
            entries = module[r.Position..end];
        }
        var body = new List<byte>();
        WriteU32(body, count + (uint)added.Count);
        body.AddRange(entries);
        foreach (var (name, kind, index) in added)
        {
            var utf8 = System.Text.Encoding.UTF8.GetBytes(name);
            WriteU32(body, (uint)utf8.Length);
            body.AddRange(utf8);
            body.Add(kind);
            WriteU32(body, index);
        }
        var section = new List<byte> { 7 };
        WriteU32(section, (uint)body.Count);
        section.AddRange(body);

        // Where the export section goes: in place of the old one, else before the first section that must follow it.
        int at, skipTo;
        if (existing >= 0) (at, skipTo) = (sections[existing].Start, sections[existing].End);
        else
        {
            var next = sections.FindIndex(s => s.Id is 8 or 9 or 10 or 11 or 12);
            at = skipTo = next >= 0 ? sections[next].Start : module.Length;
        }
        var result = new byte[module.Length - (skipTo - at) + section.Count];
        module[..at].CopyTo(result);
        section.CopyTo(result, at);
        module[skipTo..].CopyTo(result.AsSpan(at + section.Count));
        return result;
    }

    private static void WriteU32(List<byte> to, uint value)
    {
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            to.Add(value != 0 ? (byte)(b | 0x80) : b);
        } while (value != 0);
    }
}
