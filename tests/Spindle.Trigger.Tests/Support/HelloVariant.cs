using Spindle.Testing;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Tests.Support;

/// <summary>
/// The WAT hello fixture (<c>tests/fixtures/wat/http-hello.wat</c>) with some text replaced, compiled to a temp
/// <c>.wasm</c> that is deleted on dispose. Each text to replace must be in the fixture (checked).
/// </summary>
internal sealed class HelloVariant : IDisposable
{
    /// <summary>The handler's locals: text inserted after them runs first in every request.</summary>
    public const string Locals = "(local $response i32) (local $body i32) (local $stream i32)";

    /// <summary>The guest module's data segment: module-level fields can follow it.</summary>
    public const string Data = "(data (i32.const 16) \"Hello, world!\\n\")";

    private HelloVariant(string path) => Path = path;

    /// <summary>The compiled component.</summary>
    public string Path { get; }

    public static HelloVariant With(params (string Find, string Replace)[] edits)
    {
        var wat = File.ReadAllText(System.IO.Path.Combine(Paths.FixtureSources, "wat", "http-hello.wat"));
        foreach (var (find, replace) in edits)
        {
            Assert.Contains(find, wat);
            wat = wat.Replace(find, replace);
        }
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"spindle-hello-{Guid.NewGuid():N}.wasm");
        File.WriteAllBytes(path, Wat.ToWasm(wat));
        return new HelloVariant(path);
    }

    public void Dispose() => File.Delete(Path);
}
