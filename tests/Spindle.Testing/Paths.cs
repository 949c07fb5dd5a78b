namespace Spindle.Testing;

/// <summary>Locates the repository, the shared conformance data and the built test fixtures.</summary>
public static class Paths
{
    /// <summary>The repository root (the folder holding Spindle.slnx).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The read-only shared folder beside the clone (conformance vectors, spec).</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>The conformance vectors folder.</summary>
    public static string Conformance => Path.Combine(Shared, "conformance");

    /// <summary>Fixture sources (JavaScript, C, WAT) committed with the tests.</summary>
    public static string FixtureSources => Path.Combine(RepoRoot, "tests", "fixtures");

    /// <summary>Where scripts/build-fixtures.sh writes built fixtures (git-ignored, cached by content hash).</summary>
    public static string BuiltFixtures => Path.Combine(RepoRoot, "artifacts", "fixtures");

    /// <summary>Path of a built fixture; fails with the command to run when it is missing.</summary>
    public static string Fixture(string relative)
    {
        var path = Path.Combine(BuiltFixtures, relative);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Fixture '{relative}' is not built: run 'bash scripts/build-fixtures.sh' first.", path);
        return path;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Spindle.slnx")))
                return dir.FullName;
        throw new InvalidOperationException("Spindle.slnx not found above " + AppContext.BaseDirectory);
    }
}
