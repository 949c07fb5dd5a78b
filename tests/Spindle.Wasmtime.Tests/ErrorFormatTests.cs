namespace Spindle.Wasmtime.Tests;

public sealed class ErrorFormatTests
{
    [Fact]
    public void BacktraceIsSeparatedFromTheCause()
    {
        var (message, backtrace) = NativeErrorsProbe.Split(
            "error while executing at wasm backtrace:\n    0:    0x121 - <unknown>!<wasm function 7>\n\nCaused by:\n    wasm trap: interrupt");
        Assert.Equal("wasm trap: interrupt", message);
        Assert.Contains("wasm function 7", backtrace);
    }

    [Fact]
    public void ChainedCausesAreJoined()
    {
        var (message, _) = NativeErrorsProbe.Split("failed to instantiate\n\nCaused by:\n    0: outer\n    1: inner");
        Assert.Equal("failed to instantiate: outer: inner", message);
    }

    [Fact]
    public void PlainMessagesPassThrough() =>
        Assert.Equal(("unknown import: `host::add3` has not been defined", null), NativeErrorsProbe.Split("unknown import: `host::add3` has not been defined"));

    [Fact]
    public async Task TrapMessagesAreTheCause()
    {
        using var engine = new WasmEngine();
        using var module = TestModules.Compile(engine, TestModules.Main);
        using var linker = TestModules.MainLinker(engine);
        using var store = new WasmStore(engine);
        var instance = await linker.InstantiateAsync(store, module);
        var trap = await Assert.ThrowsAsync<WasmTrapException>(async () => await instance.GetFunc(store, "boom").CallAsync(store));
        Assert.Equal("wasm trap: wasm `unreachable` instruction executed", trap.Message);
        Assert.Contains("boom", trap.WasmBacktrace);
    }
}
