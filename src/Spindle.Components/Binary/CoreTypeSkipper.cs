namespace Spindle.Components.Binary;

/// <summary>
/// Skips core type encodings (function, module and GC types, import descriptors). Spindle never needs their
/// contents: Wasmtime type-checks core imports when it instantiates a module.
/// </summary>
internal static class CoreTypeSkipper
{
    public static void SkipCoreType(BinaryCursor c)
    {
        var form = c.ReadByte();
        switch (form)
        {
            case 0x60: SkipFuncType(c); break;
            case 0x50:
                var n = c.ReadCount();
                for (var i = 0; i < n; i++) SkipModuleDecl(c);
                break;
            case 0x4e: // rec group
                var m = c.ReadCount();
                for (var i = 0; i < m; i++) SkipSubType(c, c.ReadByte());
                break;
            default: SkipSubType(c, form); break;
        }
    }

    private static void SkipSubType(BinaryCursor c, byte form)
    {
        if (form is 0x50 or 0x4f) // sub / sub final (GC): supertypes then the composite type
        {
            var n = c.ReadCount();
            for (var i = 0; i < n; i++) c.ReadU32();
            form = c.ReadByte();
        }
        switch (form)
        {
            case 0x60: SkipFuncType(c); break;
            case 0x5f: { var n = c.ReadCount(); for (var i = 0; i < n; i++) { SkipValType(c); c.ReadByte(); } break; }
            case 0x5e: SkipValType(c); c.ReadByte(); break;
            default: throw c.Error($"unknown core type form 0x{form:x2}");
        }
    }

    private static void SkipFuncType(BinaryCursor c)
    {
        var p = c.ReadCount();
        for (var i = 0; i < p; i++) SkipValType(c);
        var r = c.ReadCount();
        for (var i = 0; i < r; i++) SkipValType(c);
    }

    private static void SkipModuleDecl(BinaryCursor c)
    {
        var tag = c.ReadByte();
        switch (tag)
        {
            case 0x00: c.ReadName(); c.ReadName(); SkipImportDesc(c); break;
            case 0x01: SkipCoreType(c); break;
            case 0x02: c.ReadByte(); if (c.ReadByte() != 0x01) throw c.Error("only outer aliases are allowed in a core module type"); c.ReadU32(); c.ReadU32(); break;
            case 0x03: c.ReadName(); SkipImportDesc(c); break;
            default: throw c.Error($"unknown core module type declaration 0x{tag:x2}");
        }
    }

    public static void SkipImportDesc(BinaryCursor c)
    {
        var kind = c.ReadByte();
        switch (kind)
        {
            case 0x00: c.ReadU32(); break;
            case 0x01: SkipValType(c); SkipLimits(c); break;
            case 0x02: SkipLimits(c); break;
            case 0x03: SkipValType(c); c.ReadByte(); break;
            case 0x04: c.ReadByte(); c.ReadU32(); break;
            default: throw c.Error($"unknown core import kind 0x{kind:x2}");
        }
    }

    public static void SkipLimits(BinaryCursor c)
    {
        var flags = c.ReadByte();
        SkipLeb(c);
        if ((flags & 0x01) != 0) SkipLeb(c);
        if ((flags & 0x08) != 0) SkipLeb(c); // custom page size
    }

    public static void SkipValType(BinaryCursor c)
    {
        var b = c.ReadByte();
        if (b is 0x63 or 0x64) SkipLeb(c); // (ref null? ht)
    }

    private static void SkipLeb(BinaryCursor c)
    {
        for (var i = 0; i < 10; i++)
            if ((c.ReadByte() & 0x80) == 0) return;
        throw c.Error("LEB128 too long");
    }
}
