namespace Spindle.Wasmtime.Tests;

public class SmokeTests
{
    [Fact]
    public void RepoRootIsFound() => Assert.True(File.Exists(Path.Combine(Spindle.Testing.Paths.RepoRoot, "Spindle.slnx")));
}
