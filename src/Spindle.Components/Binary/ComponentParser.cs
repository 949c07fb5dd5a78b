using Spindle.Components.Types;

namespace Spindle.Components.Binary;

/// <summary>
/// Parses the component binary format (design/mvp/Binary.md of WebAssembly/component-model) into
/// <see cref="ComponentAst"/>. Errors name the section and the byte offset.
/// </summary>
internal static class ComponentParser
{
    internal const string AsyncNotSupported = "WASI 0.3 / component-model async is not supported";

    public static ComponentAst Parse(ReadOnlyMemory<byte> bytes)
    {
        CheckPreamble(bytes.Span);
        return ParseComponent(new BinaryCursor(bytes, 0, "preamble"), depth: 0);
    }

    private static void CheckPreamble(ReadOnlySpan<byte> b)
    {
        if (b.Length < 8 || !b[..4].SequenceEqual("\0asm"u8))
            throw new ComponentLoadException("not a component: the file does not start with the WebAssembly magic bytes \\0asm");
        var layer = b[6] | (b[7] << 8);
        if (layer == 0)
            throw new ComponentLoadException(
                $"not a component: it is a core module (wasm version {b[4] | (b[5] << 8)}); use the Wagi executor for core WASI preview1 modules, or componentize it");
        if (layer != 1)
            throw new ComponentLoadException($"not a component: unknown layer {layer} in the preamble");
    }

    private static ComponentAst ParseComponent(BinaryCursor c, int depth)
    {
        if (depth > 32) throw c.Error("components nested more than 32 deep");
        var ast = new ComponentAst { Offset = c.Offset };
        var preamble = c.ReadBytes(8).Span;
        if (!preamble[..4].SequenceEqual("\0asm"u8) || preamble[6] != 1 || preamble[7] != 0)
            throw c.Error("bad component preamble");
        while (!c.AtEnd)
        {
            var idOffset = c.Offset;
            var id = c.ReadByte();
            var size = c.ReadIndex();
            var name = SectionName(id);
            c.Section = name;
            var s = c.Sub(size, name);
            var defs = ast.Definitions;
            switch (id)
            {
                case 0: break; // custom
                case 1: defs.Add(new CoreModuleDef(s.Offset, s.ReadBytes(s.Remaining))); break;
                case 2: ReadVec(s, () => defs.Add(ReadCoreInstance(s))); break;
                case 3: ReadVec(s, () => { var o = s.Offset; CoreTypeSkipper.SkipCoreType(s); defs.Add(new CoreTypeDef(o)); }); break;
                case 4: defs.Add(new NestedComponentDef(s.Offset, ParseComponent(s, depth + 1))); break;
                case 5: ReadVec(s, () => defs.Add(ReadInstance(s))); break;
                case 6: ReadVec(s, () => defs.Add(ReadAlias(s))); break;
                case 7: ReadVec(s, () => { var o = s.Offset; defs.Add(new TypeDef(o, ReadType(s))); }); break;
                case 8: ReadVec(s, () => defs.Add(ReadCanon(s))); break;
                case 9: throw s.Error("component start functions (value definitions) are not supported");
                case 10: ReadVec(s, () => { var o = s.Offset; var n = ReadExternName(s); defs.Add(new ImportDef(o, n, ReadExternDesc(s))); }); break;
                case 11: ReadVec(s, () => defs.Add(ReadExport(s))); break;
                case 12: throw s.Error("component value definitions are not supported");
                default: throw new ComponentLoadException($"malformed component: unknown section id {id} at byte offset 0x{idOffset:x}");
            }
            if (id != 0 && id != 1 && id != 4 && !s.AtEnd) throw s.Error($"{s.Remaining} unread bytes at the end of the section");
        }
        return ast;
    }

    private static string SectionName(byte id) => id switch
    {
        0 => "custom", 1 => "core module", 2 => "core instance", 3 => "core type", 4 => "component", 5 => "instance",
        6 => "alias", 7 => "type", 8 => "canon", 9 => "start", 10 => "import", 11 => "export", 12 => "value",
        _ => $"unknown({id})",
    };

    private static void ReadVec(BinaryCursor c, Action item)
    {
        var n = c.ReadCount();
        for (var i = 0; i < n; i++) item();
    }

    private static Definition ReadCoreInstance(BinaryCursor c)
    {
        var o = c.Offset;
        switch (c.ReadByte())
        {
            case 0x00:
            {
                var module = c.ReadIndex();
                var args = new (string, int)[c.ReadCount()];
                for (var i = 0; i < args.Length; i++)
                {
                    var name = c.ReadName();
                    if (c.ReadByte() != 0x12) throw c.Error("core instantiate argument must be an instance");
                    args[i] = (name, c.ReadIndex());
                }
                return new CoreInstantiateDef(o, module, args);
            }
            case 0x01:
            {
                var exports = new (string, CoreSort, int)[c.ReadCount()];
                for (var i = 0; i < exports.Length; i++)
                    exports[i] = (c.ReadName(), ReadCoreSort(c), c.ReadIndex());
                return new CoreInstanceFromExportsDef(o, exports);
            }
            default: throw c.Error("unknown core instance expression");
        }
    }

    private static CoreSort ReadCoreSort(BinaryCursor c)
    {
        var b = c.ReadByte();
        return b switch
        {
            0x00 or 0x01 or 0x02 or 0x03 or 0x10 or 0x11 or 0x12 => (CoreSort)b,
            0x04 => throw c.Error("core tags (exception handling) are not supported"),
            _ => throw c.Error($"unknown core sort 0x{b:x2}"),
        };
    }

    private static SortKind ReadSort(BinaryCursor c)
    {
        var b = c.ReadByte();
        return b switch
        {
            0x00 => new SortKind(Sort.Core, ReadCoreSort(c)),
            0x01 or 0x03 or 0x04 or 0x05 => new SortKind((Sort)b, default),
            0x02 => throw c.Error("component values are not supported"),
            _ => throw c.Error($"unknown sort 0x{b:x2}"),
        };
    }

    private static Definition ReadInstance(BinaryCursor c)
    {
        var o = c.Offset;
        switch (c.ReadByte())
        {
            case 0x00:
            {
                var component = c.ReadIndex();
                var args = new (string, SortKind, int)[c.ReadCount()];
                for (var i = 0; i < args.Length; i++)
                    args[i] = (c.ReadName(), ReadSort(c), c.ReadIndex());
                return new InstantiateDef(o, component, args);
            }
            case 0x01:
            {
                var exports = new (string, SortKind, int)[c.ReadCount()];
                for (var i = 0; i < exports.Length; i++)
                    exports[i] = (ReadExternName(c), ReadSort(c), c.ReadIndex());
                return new InstanceFromExportsDef(o, exports);
            }
            default: throw c.Error("unknown instance expression");
        }
    }

    private static AliasDef ReadAlias(BinaryCursor c)
    {
        var o = c.Offset;
        var sort = ReadSort(c);
        var kind = c.ReadByte();
        return kind switch
        {
            0x00 => new AliasDef(o, sort, AliasKind.InstanceExport, c.ReadIndex(), c.ReadName(), 0, 0),
            0x01 => new AliasDef(o, sort, AliasKind.CoreInstanceExport, c.ReadIndex(), c.ReadName(), 0, 0),
            0x02 => new AliasDef(o, sort, AliasKind.Outer, 0, "", c.ReadIndex(), c.ReadIndex()),
            _ => throw c.Error($"unknown alias target 0x{kind:x2}"),
        };
    }

    /// <summary>Import and export names: <c>0x00</c> (plain) or <c>0x01</c> (interface, older encoders) then the name.</summary>
    private static string ReadExternName(BinaryCursor c)
    {
        var b = c.ReadByte();
        if (b is not (0x00 or 0x01)) throw c.Error($"unknown import/export name form 0x{b:x2}");
        return c.ReadName();
    }

    private static ExportDef ReadExport(BinaryCursor c)
    {
        var o = c.Offset;
        var name = ReadExternName(c);
        var sort = ReadSort(c);
        var index = c.ReadIndex();
        ExternDesc? desc = c.ReadByte() switch { 0x00 => null, 0x01 => ReadExternDesc(c), _ => throw c.Error("bad optional export type") };
        return new ExportDef(o, name, sort, index, desc);
    }

    private static ExternDesc ReadExternDesc(BinaryCursor c)
    {
        var b = c.ReadByte();
        switch (b)
        {
            case 0x00:
                if (c.ReadByte() != 0x11) throw c.Error("core extern description must be a module");
                return new ExternDesc(ExternKind.CoreModule, c.ReadIndex(), false);
            case 0x01: return new ExternDesc(ExternKind.Func, c.ReadIndex(), false);
            case 0x02: throw c.Error("component value imports/exports are not supported");
            case 0x03:
                return c.ReadByte() switch
                {
                    0x00 => new ExternDesc(ExternKind.Type, c.ReadIndex(), false),
                    0x01 => new ExternDesc(ExternKind.Type, 0, true),
                    _ => throw c.Error("unknown type bound"),
                };
            case 0x04: return new ExternDesc(ExternKind.Component, c.ReadIndex(), false);
            case 0x05: return new ExternDesc(ExternKind.Instance, c.ReadIndex(), false);
            default: throw c.Error($"unknown extern description 0x{b:x2}");
        }
    }

    private static CanonDef ReadCanon(BinaryCursor c)
    {
        var o = c.Offset;
        var op = c.ReadByte();
        switch (op)
        {
            case 0x00:
            {
                if (c.ReadByte() != 0x00) throw c.Error("canon lift must take a core func");
                var f = c.ReadIndex();
                var opts = ReadOptions(c);
                return new CanonDef(o, CanonKind.Lift, f, opts, c.ReadIndex());
            }
            case 0x01:
            {
                if (c.ReadByte() != 0x00) throw c.Error("canon lower must take a func");
                var f = c.ReadIndex();
                return new CanonDef(o, CanonKind.Lower, f, ReadOptions(c), 0);
            }
            case 0x02: return new CanonDef(o, CanonKind.ResourceNew, c.ReadIndex(), DefaultOptions, 0);
            case 0x03: return new CanonDef(o, CanonKind.ResourceDrop, c.ReadIndex(), DefaultOptions, 0);
            case 0x04: return new CanonDef(o, CanonKind.ResourceRep, c.ReadIndex(), DefaultOptions, 0);
            // The async built-ins a guest needs to call `async` host functions with `canon lower async`.
            case 0x1f: return new CanonDef(o, CanonKind.WaitableSetNew, 0, DefaultOptions, 0);
            case 0x20 or 0x21:
            {
                // cancel? then the memory the event is written to. Only a cancellable wait observes task
                // cancellation, which a task Spindle runs never receives; both forms behave the same.
                ReadFlag(c, "cancellable");
                return new CanonDef(o, op == 0x20 ? CanonKind.WaitableSetWait : CanonKind.WaitableSetPoll, c.ReadIndex(), DefaultOptions, 0);
            }
            case 0x22: return new CanonDef(o, CanonKind.WaitableSetDrop, 0, DefaultOptions, 0);
            case 0x23: return new CanonDef(o, CanonKind.WaitableJoin, 0, DefaultOptions, 0);
            case 0x0d: return new CanonDef(o, CanonKind.SubtaskDrop, 0, DefaultOptions, 0);
            case 0x06:
                ReadFlag(c, "async");
                return new CanonDef(o, CanonKind.SubtaskCancel, 0, DefaultOptions, 0);
            // The reading side of streams and futures the host writes (t:<typeidx> in Index).
            case 0x0f: { var t = c.ReadIndex(); return new CanonDef(o, CanonKind.StreamRead, t, ReadOptions(c), 0); }
            case 0x16: { var t = c.ReadIndex(); return new CanonDef(o, CanonKind.FutureRead, t, ReadOptions(c), 0); }
            case 0x11 or 0x18:
            {
                var t = c.ReadIndex();
                ReadFlag(c, "async");
                return new CanonDef(o, op == 0x11 ? CanonKind.StreamCancelRead : CanonKind.FutureCancelRead, t, DefaultOptions, 0);
            }
            case 0x13: return new CanonDef(o, CanonKind.StreamDropReadable, c.ReadIndex(), DefaultOptions, 0);
            case 0x1a: return new CanonDef(o, CanonKind.FutureDropReadable, c.ReadIndex(), DefaultOptions, 0);
            case >= 0x0e and <= 0x1b:
                throw c.ErrorAt(o, $"canon opcode 0x{op:x2} (stream.new/write or future.new/write: streams and futures written by the guest): {AsyncNotSupported}");
            case 0x09 or 0x05 or 0x24 or 0x25 or 0x0a or 0x0b:
                throw c.ErrorAt(o, $"canon opcode 0x{op:x2} (task.return, task.cancel, context or backpressure built-in, used by async-lifted exports): {AsyncNotSupported}");
            default:
                throw c.ErrorAt(o, $"canon opcode 0x{op:x2} (an async, error-context or thread built-in Spindle does not run): {AsyncNotSupported}");
        }
    }

    private static readonly CanonOptions DefaultOptions = new(StringEncoding.Utf8, null, null, null);

    private static bool ReadFlag(BinaryCursor c, string what) => c.ReadByte() switch
    {
        0x00 => false,
        0x01 => true,
        var b => throw c.Error($"bad '{what}' flag 0x{b:x2}"),
    };

    private static CanonOptions ReadOptions(BinaryCursor c)
    {
        var enc = StringEncoding.Utf8;
        int? memory = null, realloc = null, post = null;
        var isAsync = false;
        var n = c.ReadCount();
        for (var i = 0; i < n; i++)
        {
            var b = c.ReadByte();
            switch (b)
            {
                case 0x00 or 0x01 or 0x02: enc = (StringEncoding)b; break;
                case 0x03: memory = c.ReadIndex(); break;
                case 0x04: realloc = c.ReadIndex(); break;
                case 0x05: post = c.ReadIndex(); break;
                case 0x06: isAsync = true; break;
                // Only an async lift has a callback, and async-lifted exports are not run.
                case 0x07: throw c.Error($"canon option 'callback' (async-lifted exports): {AsyncNotSupported}");
                default: throw c.Error($"unknown canon option 0x{b:x2}");
            }
        }
        return new CanonOptions(enc, memory, realloc, post, isAsync);
    }

    // ---- types ----

    private static TypeAst ReadType(BinaryCursor c)
    {
        var b = c.ReadByte();
        switch (b)
        {
            case 0x40: return ReadFuncType(c, isAsync: false);
            case 0x43: return ReadFuncType(c, isAsync: true);
            case 0x41: return new ComponentTypeAst(ReadDecls(c, component: true));
            case 0x42: return new InstanceTypeAst(ReadDecls(c, component: false));
            case 0x3f:
            {
                if (c.ReadByte() != 0x7f) throw c.Error("resource representation must be i32");
                int? dtor = c.ReadByte() switch { 0x00 => null, 0x01 => c.ReadIndex(), _ => throw c.Error("bad resource destructor") };
                return new ResourceAst(dtor);
            }
            case 0x3e: throw c.Error($"async resource type: {AsyncNotSupported}");
            default: return ReadDefValType(c, b);
        }
    }

    private static FuncAst ReadFuncType(BinaryCursor c, bool isAsync)
    {
        var ps = new (string, ValRef)[c.ReadCount()];
        for (var i = 0; i < ps.Length; i++) ps[i] = (c.ReadName(), ReadValType(c));
        ValRef? result;
        switch (c.ReadByte())
        {
            case 0x00: result = ReadValType(c); break;
            case 0x01:
                var n = c.ReadCount();
                if (n > 1) throw c.Error("functions with more than one named result are not supported (WASI 0.2 uses at most one)");
                if (n == 1) { c.ReadName(); result = ReadValType(c); }
                else result = null;
                break;
            default: throw c.Error("bad function result list");
        }
        return new FuncAst(ps, result, isAsync);
    }

    private static TypeAst ReadDefValType(BinaryCursor c, byte b)
    {
        if (b >= 0x73 && b <= 0x7f) return new PrimitiveAst(PrimFromByte(b));
        switch (b)
        {
            case 0x72:
            {
                var fields = new (string, ValRef)[c.ReadCount()];
                for (var i = 0; i < fields.Length; i++) fields[i] = (c.ReadName(), ReadValType(c));
                if (fields.Length == 0) throw c.Error("record with no fields");
                return new RecordAst(fields);
            }
            case 0x71:
            {
                var cases = new (string, ValRef?)[c.ReadCount()];
                for (var i = 0; i < cases.Length; i++)
                {
                    var name = c.ReadName();
                    var payload = ReadOptionalValType(c);
                    switch (c.ReadByte())
                    {
                        case 0x00: break;
                        case 0x01: c.ReadU32(); break; // legacy "refines"
                        default: throw c.Error("bad variant case terminator");
                    }
                    cases[i] = (name, payload);
                }
                if (cases.Length == 0) throw c.Error("variant with no cases");
                return new VariantAst(cases);
            }
            case 0x70: return new ListAst(ReadValType(c));
            case 0x67: throw c.Error("fixed-size lists are not supported");
            case 0x6f:
            {
                var ts = new ValRef[c.ReadCount()];
                for (var i = 0; i < ts.Length; i++) ts[i] = ReadValType(c);
                if (ts.Length == 0) throw c.Error("tuple with no elements");
                return new TupleAst(ts);
            }
            case 0x6e:
            {
                var names = ReadNames(c);
                if (names.Length > 32) throw c.Error($"flags with {names.Length} labels (at most 32 are allowed)");
                return new FlagsAst(names);
            }
            case 0x6d: return new EnumAst(ReadNames(c));
            case 0x6b: return new OptionAst(ReadValType(c));
            case 0x6a: return new ResultAst(ReadOptionalValType(c), ReadOptionalValType(c));
            case 0x69: return new OwnAst(c.ReadIndex());
            case 0x68: return new BorrowAst(c.ReadIndex());
            case 0x66: return new StreamAst(ReadOptionalValType(c));
            case 0x65: return new FutureAst(ReadOptionalValType(c));
            case 0x64: throw c.Error($"error-context type: {AsyncNotSupported}");
            default: throw c.Error($"unknown type constructor 0x{b:x2}");
        }
    }

    private static string[] ReadNames(BinaryCursor c)
    {
        var names = new string[c.ReadCount()];
        for (var i = 0; i < names.Length; i++) names[i] = c.ReadName();
        return names;
    }

    private static ValRef? ReadOptionalValType(BinaryCursor c) => c.ReadByte() switch
    {
        0x00 => null,
        0x01 => ReadValType(c),
        _ => throw c.Error("bad optional value type"),
    };

    private static PrimitiveKind PrimFromByte(byte b) => (PrimitiveKind)(0x7f - b);

    /// <summary>A valtype is a type index (non-negative SLEB) or a primitive opcode (0x73..0x7f, a negative SLEB).</summary>
    private static ValRef ReadValType(BinaryCursor c)
    {
        var b = c.PeekByte();
        if (b >= 0x73 && b <= 0x7f) { c.ReadByte(); return new ValRef(PrimFromByte(b), 0); }
        if (b >= 0x40 && b < 0x80) throw c.Error($"value type 0x{b:x2} is not a primitive or type index");
        // A type index is an s33 in the spec; non-negative values encode as a plain u32 here.
        return new ValRef(null, c.ReadIndex());
    }

    private static Declaration[] ReadDecls(BinaryCursor c, bool component)
    {
        var decls = new Declaration[c.ReadCount()];
        for (var i = 0; i < decls.Length; i++)
        {
            var tag = c.ReadByte();
            decls[i] = tag switch
            {
                0x00 => SkipCore(c),
                0x01 => new TypeDecl(ReadType(c)),
                0x02 => new AliasDecl(ReadAlias(c)),
                0x03 when component => new ImportDecl(ReadExternName(c), ReadExternDesc(c)),
                0x04 => new ExportDecl(ReadExternName(c), ReadExternDesc(c)),
                _ => throw c.Error($"unknown {(component ? "component" : "instance")} type declaration 0x{tag:x2}"),
            };
        }
        return decls;
    }

    private static CoreTypeDecl SkipCore(BinaryCursor c)
    {
        CoreTypeSkipper.SkipCoreType(c);
        return new CoreTypeDecl();
    }
}
