using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Spindle.Wasmtime;

/// <summary>
/// On-disk cache of compiled modules. Key: SHA-256 of the wasm bytes + SHA-256 of the engine's
/// <see cref="WasmEngine.Fingerprint"/>. Artifacts are written atomically (temp file + rename) into a
/// directory created with mode 0700, because Wasmtime trusts a deserialized artifact completely.
/// A hit maps the file (milliseconds); an unreadable or mismatched artifact is deleted and recompiled.
/// Stateless: the directory comes from the engine's options on every call. Reads no environment variables: a host
/// maps its own (Spindle's CLI: <c>SPINDLE_CACHE_DIR</c>, <c>XDG_CACHE_HOME</c>) onto <see cref="EngineOptions.CacheDirectory"/>.
/// </summary>
public static class ArtifactCache
{
    /// <summary>The cache directory when the options name none: <c>~/.cache/spindle</c>.</summary>
    public static string DefaultDirectory => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "spindle");

    /// <summary>The cache directory for <paramref name="engine"/>: its CacheDirectory option, else <see cref="DefaultDirectory"/>.</summary>
    public static string DirectoryFor(WasmEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return string.IsNullOrEmpty(engine.Options.CacheDirectory) ? DefaultDirectory : Path.GetFullPath(engine.Options.CacheDirectory);
    }

    /// <summary>Where the artifact for <paramref name="wasm"/> compiled by <paramref name="engine"/> lives.</summary>
    public static string PathFor(WasmEngine engine, ReadOnlySpan<byte> wasm)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var content = Convert.ToHexStringLower(SHA256.HashData(wasm));
        var settings = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(engine.Fingerprint)))[..16];
        return Path.Combine(DirectoryFor(engine), $"{content}-{settings}.cwasm");
    }

    /// <summary>
    /// Returns the module for <paramref name="wasm"/>: from the cache when present and loadable, else compiled
    /// (reporting "compiling X MB..." to <paramref name="progress"/>) and stored. Cache write failures are
    /// reported and ignored: the compiled module is still returned.
    /// </summary>
    public static WasmModule LoadOrCompile(WasmEngine engine, ReadOnlySpan<byte> wasm, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (!engine.Options.UseArtifactCache)
        {
            progress?.Report(string.Create(CultureInfo.InvariantCulture, $"compiling {wasm.Length / 1048576.0:0.0} MB of WebAssembly (artifact cache off)..."));
            return WasmModule.Compile(engine, wasm);
        }
        var path = PathFor(engine, wasm);
        if (File.Exists(path) && !IsPrivate(path))
        {
            progress?.Report($"ignoring cached artifact {path}: it or its directory is writable by others");
            TryDelete(path);
        }
        else if (File.Exists(path))
        {
            try
            {
                return WasmModule.DeserializeFile(engine, path);
            }
            catch (WasmtimeException e)
            {
                progress?.Report($"discarding unusable cached artifact {path}: {FirstLine(e.Message)}");
                TryDelete(path);
            }
        }

        progress?.Report(string.Create(CultureInfo.InvariantCulture, $"compiling {wasm.Length / 1048576.0:0.0} MB of WebAssembly..."));
        var module = WasmModule.Compile(engine, wasm);
        try
        {
            Store(path, module.Serialize());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or WasmtimeException)
        {
            progress?.Report($"could not write compiled artifact {path}: {e.Message}");
        }
        return module;
    }

    private static void Store(string path, byte[] artifact)
    {
        var dir = Path.GetDirectoryName(path)!;
        EnsurePrivateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var fs = new FileStream(temp, options))
            {
                fs.Write(artifact);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    private static void EnsurePrivateDirectory(string dir)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(dir);
            return;
        }
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        if (!Directory.Exists(dir))
            Directory.CreateDirectory(dir, Private);
        // Deserialization trusts artifacts: nobody else may be able to plant one.
        if ((File.GetUnixFileMode(dir) & ~Private) != 0)
            File.SetUnixFileMode(dir, Private);
    }

    /// <summary>Deserialization trusts artifacts: only load files that nobody but the owner could have written.</summary>
    private static bool IsPrivate(string file)
    {
        if (OperatingSystem.IsWindows()) return true;
        const UnixFileMode OthersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
        var dir = Path.GetDirectoryName(file)!;
        return (File.GetUnixFileMode(dir) & OthersWrite) == 0 && (File.GetUnixFileMode(file) & OthersWrite) == 0;
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return i < 0 ? s : s[..i];
    }
}
