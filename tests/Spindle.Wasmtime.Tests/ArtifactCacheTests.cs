using System.Diagnostics;

namespace Spindle.Wasmtime.Tests;

public sealed class ArtifactCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"spindle-cache-test-{Guid.NewGuid():N}", "cache");

    public void Dispose()
    {
        var root = Path.GetDirectoryName(_dir)!;
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    private sealed class Log : IProgress<string>
    {
        public readonly List<string> Lines = [];
        public void Report(string value) { lock (Lines) Lines.Add(value); }
    }

    private static async Task<int> Run(WasmEngine engine, WasmModule module)
    {
        using var linker = TestModules.MainLinker(engine, slowMs: 1);
        using var store = new WasmStore(engine);
        var instance = await linker.InstantiateAsync(store, module);
        return (await instance.GetFunc(store, "call_slow").CallAsync(store, [WasmValue.I32(3)], 1))[0].AsI32();
    }

    [Fact]
    public async Task WithTheCacheOffNothingIsReadOrWritten()
    {
        using var engine = new WasmEngine(new EngineOptions { CacheDirectory = _dir, UseArtifactCache = false });
        var wasm = Wat.ToWasm(TestModules.Main);
        for (var i = 0; i < 2; i++)
        {
            var log = new Log();
            using (var module = ArtifactCache.LoadOrCompile(engine, wasm, log))
                Assert.Equal(6, await Run(engine, module));
            Assert.Contains(log.Lines, l => l.Contains("artifact cache off", StringComparison.Ordinal)); // compiled both times
        }
        Assert.False(Directory.Exists(_dir) && Directory.EnumerateFileSystemEntries(_dir).Any());
    }

    [Fact]
    public async Task SecondLoadIsACacheHitAndCorruptArtifactsAreRecompiled()
    {
        using var engine = new WasmEngine(new EngineOptions { CacheDirectory = _dir });
        var wasm = Wat.ToWasm(TestModules.Main);
        var path = ArtifactCache.PathFor(engine, wasm);

        var first = new Log();
        using (var module = ArtifactCache.LoadOrCompile(engine, wasm, first))
            Assert.Equal(6, await Run(engine, module));
        Assert.Contains(first.Lines, l => l.StartsWith("compiling 0.0 MB", StringComparison.Ordinal));
        Assert.True(File.Exists(path));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));

        var second = new Log();
        var sw = Stopwatch.StartNew();
        using (var module = ArtifactCache.LoadOrCompile(engine, wasm, second))
        {
            sw.Stop();
            Assert.Empty(second.Lines); // no compile: it was deserialized
            Assert.Equal(6, await Run(engine, module));
        }
        Assert.True(sw.ElapsedMilliseconds < 1000, $"cache hit took {sw.ElapsedMilliseconds} ms");

        await File.WriteAllBytesAsync(path, [0x7F, (byte)'E', (byte)'L', (byte)'F', 1, 2, 3], TestContext.Current.CancellationToken);
        var third = new Log();
        using (var module = ArtifactCache.LoadOrCompile(engine, wasm, third))
            Assert.Equal(6, await Run(engine, module));
        Assert.Contains(third.Lines, l => l.StartsWith("discarding", StringComparison.Ordinal));
        Assert.Contains(third.Lines, l => l.StartsWith("compiling", StringComparison.Ordinal));

        var fourth = new Log();
        using (ArtifactCache.LoadOrCompile(engine, wasm, fourth)) { }
        Assert.Empty(fourth.Lines);
    }

    [Fact]
    public void ArtifactsOthersCouldWriteAreNotLoaded()
    {
        if (OperatingSystem.IsWindows()) return;
        using var engine = new WasmEngine(new EngineOptions { CacheDirectory = _dir });
        var wasm = Wat.ToWasm(TestModules.SlowOnly);
        ArtifactCache.LoadOrCompile(engine, wasm).Dispose();
        var path = ArtifactCache.PathFor(engine, wasm);
        File.SetUnixFileMode(_dir, File.GetUnixFileMode(_dir) | UnixFileMode.OtherWrite);

        var log = new Log();
        ArtifactCache.LoadOrCompile(engine, wasm, log).Dispose();
        Assert.Contains(log.Lines, l => l.StartsWith("ignoring cached artifact", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.StartsWith("compiling", StringComparison.Ordinal));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(_dir) & UnixFileMode.OtherWrite); // permissions repaired
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void KeyDependsOnEngineSettings()
    {
        using var a = new WasmEngine(new EngineOptions { CacheDirectory = _dir });
        using var b = new WasmEngine(new EngineOptions { CacheDirectory = _dir, MaxWasmStack = 256 * 1024 });
        var wasm = Wat.ToWasm(TestModules.SlowOnly);
        Assert.NotEqual(ArtifactCache.PathFor(a, wasm), ArtifactCache.PathFor(b, wasm));
    }

    [Fact]
    public void TheDirectoryComesFromTheOptionsOnly()
    {
        using var engine = new WasmEngine();
        Assert.Equal(ArtifactCache.DefaultDirectory, ArtifactCache.DirectoryFor(engine));
        Assert.EndsWith(Path.Combine(".cache", "spindle"), ArtifactCache.DefaultDirectory);
        using var configured = new WasmEngine(new EngineOptions { CacheDirectory = _dir });
        Assert.Equal(Path.GetFullPath(_dir), ArtifactCache.DirectoryFor(configured));
    }
}
