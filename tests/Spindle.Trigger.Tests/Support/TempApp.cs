namespace Spindle.Trigger.Tests.Support;

/// <summary>A throw-away application folder: a spin.toml and whatever files a test puts beside it.</summary>
internal sealed class TempApp : IDisposable
{
    public TempApp(string manifest, params string[] wasmFiles)
    {
        Directory.CreateDirectory(Dir);
        File.WriteAllText(ManifestPath, manifest);
        foreach (var w in wasmFiles) WriteFile(w, "\0asm\u0001\0\0\0");
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "spindle-tests", Guid.NewGuid().ToString("N"));

    public string ManifestPath => Path.Combine(Dir, "spin.toml");

    public string WriteFile(string relative, string content)
    {
        var full = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
