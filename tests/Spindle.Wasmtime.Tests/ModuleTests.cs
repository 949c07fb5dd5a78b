using System.Text.RegularExpressions;

namespace Spindle.Wasmtime.Tests;

public sealed class ModuleTests : IDisposable
{
    private readonly WasmEngine _engine = new();

    public void Dispose() => _engine.Dispose();

    [Fact]
    public void ImportsAndExportsCarryKindsAndSignatures()
    {
        using var module = TestModules.Compile(_engine, TestModules.Main);
        Assert.Equal(
            [new WasmImport("host", "add3", WasmExternKind.Func, TestModules.Add3Type), new WasmImport("host", "slow", WasmExternKind.Func, TestModules.I32ToI32)],
            module.Imports);
        var exports = module.Exports.ToDictionary(e => e.Name);
        Assert.Equal(WasmExternKind.Memory, exports["memory"].Kind);
        Assert.Equal(WasmExternKind.Global, exports["counter"].Kind);
        Assert.Equal(WasmExternKind.Table, exports["table"].Kind);
        Assert.Null(exports["memory"].FuncType);
        Assert.Equal(WasmFuncType.Of([WasmValueKind.I32, WasmValueKind.I64, WasmValueKind.F32, WasmValueKind.F64],
            [WasmValueKind.F64, WasmValueKind.I64, WasmValueKind.I32]), exports["sum4"].FuncType);
    }

    [Fact]
    public void WatSyntaxErrorsNameLineAndColumn()
    {
        var e = Assert.Throws<WasmtimeException>(() => Wat.ToWasm("(module\n  (func (bogus)))"));
        Assert.Matches(new Regex(@"2:\d+"), e.Message);
    }

    [Fact]
    public void WatAcceptsComponents()
    {
        var bytes = Wat.ToWasm("(component)");
        Assert.Equal([0x00, 0x61, 0x73, 0x6D], bytes[..4]);
        Assert.NotEqual(1, bytes[4]); // component layer, not core version 1
    }

    [Fact]
    public void InvalidWasmGivesWasmtimesMessage()
    {
        var e = Assert.Throws<WasmtimeException>(() => WasmModule.Compile(_engine, [0, 0x61, 0x73, 0x6D, 9, 0, 0, 0]));
        Assert.Contains("compiling wasm module", e.Message);
    }

    [Fact]
    public async Task SerializeRoundTripsThroughAFile()
    {
        using var module = TestModules.Compile(_engine, TestModules.SlowOnly);
        var path = Path.Combine(Path.GetTempPath(), $"spindle-test-{Guid.NewGuid():N}.cwasm");
        try
        {
            await File.WriteAllBytesAsync(path, module.Serialize(), TestContext.Current.CancellationToken);
            using var loaded = WasmModule.DeserializeFile(_engine, path);
            Assert.Equal(module.Imports, loaded.Imports);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ArtifactFromAnEngineWithOtherSettingsIsRejectedNotCrashed()
    {
        using var other = new WasmEngine(new EngineOptions { MaxWasmStack = 256 * 1024 });
        Assert.NotEqual(_engine.Fingerprint, other.Fingerprint);
        using var module = TestModules.Compile(_engine, TestModules.SlowOnly);
        var path = Path.Combine(Path.GetTempPath(), $"spindle-test-{Guid.NewGuid():N}.cwasm");
        try
        {
            File.WriteAllBytes(path, module.Serialize());
            var pooled = new EngineOptions { Pooling = true, TotalCoreInstances = 4, TotalMemories = 4, TotalTables = 4, TotalStacks = 4, MaxMemorySize = 1 << 20 };
            using var pooling = new WasmEngine(pooled);
            // Either wasmtime accepts it (compatible) or rejects it with an error: never a crash.
            try { WasmModule.DeserializeFile(pooling, path).Dispose(); } catch (WasmtimeException) { }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
