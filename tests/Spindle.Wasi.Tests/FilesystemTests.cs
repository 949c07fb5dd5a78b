using System.Text;
using Spindle.Components.Values;
using Spindle.Wasi.Preview2;
using Spindle.Wasi.Preview2.Filesystem;
using Spindle.Wasi.Preview2.Io;
using static Spindle.Wasi.Tests.HostCalls;

namespace Spindle.Wasi.Tests;

public sealed class FilesystemTests : IDisposable
{
    private const string Types = "wasi:filesystem/types";
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private readonly string _root = Directory.CreateTempSubdirectory("spindle-fs-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("spindle-fs-outside-").FullName;
    private readonly WasiContext _context;

    public FilesystemTests()
    {
        File.WriteAllText(Path.Combine(_root, "a.txt"), "hello file");
        Directory.CreateDirectory(Path.Combine(_root, "sub"));
        File.WriteAllText(Path.Combine(_root, "sub", "b.txt"), "b");
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), "secret");
        File.CreateSymbolicLink(Path.Combine(_root, "escape.txt"), Path.Combine(_outside, "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(_root, "inside.txt"), Path.Combine(_root, "a.txt"));
        _context = new WasiContext { Preopens = [new WasiPreopen(_root, "/")] };
    }

    private Descriptor Root()
    {
        var dirs = Assert.IsType<object?[]>(Call("wasi:filesystem/preopens", "get-directories", _context));
        var pair = Assert.IsType<object?[]>(Assert.Single(dirs));
        Assert.Equal("/", pair[1]);
        return Assert.IsType<Descriptor>(pair[0]);
    }

    private static string ErrorName(object? result)
    {
        var r = Assert.IsType<ResultValue>(result);
        Assert.False(r.IsOk, $"expected an error, got {r}");
        return new[] { "access", "would-block", "already", "bad-descriptor", "busy", "deadlock", "quota", "exist", "file-too-large", "illegal-byte-sequence", "in-progress", "interrupted", "invalid", "io", "is-directory", "loop", "too-many-links", "message-size", "name-too-long", "no-device", "no-entry", "no-lock", "insufficient-memory", "insufficient-space", "not-directory", "not-empty", "not-recoverable", "unsupported", "no-tty", "no-such-device", "overflow", "not-permitted", "pipe", "read-only", "invalid-seek", "text-file-busy", "cross-device" }[(int)r.Value!];
    }

    private object? OpenAt(Descriptor dir, string path, uint openFlags = 0, uint flags = 1) =>
        Call(Types, "[method]descriptor.open-at", _context, dir, 0u, path, openFlags, flags);

    [Fact]
    public async Task Files_in_the_preopen_are_readable_by_stream_and_by_offset()
    {
        var root = Root();
        var file = Assert.IsType<Descriptor>(((ResultValue)OpenAt(root, "a.txt")!).Value);
        var stream = Assert.IsAssignableFrom<InputStream>(((ResultValue)Call(Types, "[method]descriptor.read-via-stream", _context, file, 6UL)!).Value);
        var read = (ResultValue)(await CallAsync("wasi:io/streams", "[method]input-stream.blocking-read", _context, Ct, stream, 100UL))!;
        Assert.Equal("file", Encoding.ASCII.GetString((byte[])read.Value!));
        var chunk = (object?[])((ResultValue)Call(Types, "[method]descriptor.read", _context, file, 5UL, 0UL)!).Value!;
        Assert.Equal("hello", Encoding.ASCII.GetString((byte[])chunk[0]!));
        Assert.Equal(false, chunk[1]);

        var stat = (object?[])((ResultValue)Call(Types, "[method]descriptor.stat", _context, file)!).Value!;
        Assert.Equal(6, stat[0]); // regular-file
        Assert.Equal(10UL, stat[2]);
        var sub = Assert.IsType<Descriptor>(((ResultValue)OpenAt(root, "sub", openFlags: 2)!).Value);
        Assert.Equal(3, ((ResultValue)Call(Types, "[method]descriptor.get-type", _context, sub)!).Value);
        Assert.Equal("b", Encoding.ASCII.GetString((byte[])((object?[])((ResultValue)Call(Types, "[method]descriptor.read", _context,
            ((ResultValue)OpenAt(sub, "b.txt")!).Value, 10UL, 0UL)!).Value!)[0]!));
        Assert.Equal("h", Encoding.ASCII.GetString((byte[])((object?[])((ResultValue)Call(Types, "[method]descriptor.read", _context,
            ((ResultValue)OpenAt(root, "inside.txt")!).Value, 1UL, 0UL)!).Value!)[0]!));
    }

    [Fact]
    public void Directory_listing()
    {
        var entries = Assert.IsType<DirectoryEntryStream>(((ResultValue)Call(Types, "[method]descriptor.read-directory", _context, Root())!).Value);
        var names = new List<string>();
        while (((ResultValue)Call(Types, "[method]directory-entry-stream.read-directory-entry", _context, entries)!).Value is Some { Value: object?[] e })
            names.Add((string)e[1]!);
        Assert.Equal(["a.txt", "escape.txt", "inside.txt", "sub"], names.Order());
    }

    [Theory]
    [InlineData("../x", "not-permitted")]
    [InlineData("sub/../../x", "not-permitted")]
    [InlineData("/etc/passwd", "not-permitted")]
    [InlineData("escape.txt", "not-permitted")]
    [InlineData("missing.txt", "no-entry")]
    [InlineData("", "no-entry")]
    public void Paths_outside_or_missing_are_refused(string path, string expected)
    {
        Assert.Equal(expected, ErrorName(OpenAt(Root(), path)));
        if (path.Length > 0)
            Assert.Equal(expected, ErrorName(Call(Types, "[method]descriptor.stat-at", _context, Root(), 0u, path)));
    }

    [Fact]
    public void Everything_that_writes_is_not_permitted()
    {
        var root = Root();
        Assert.Equal("not-permitted", ErrorName(OpenAt(root, "new.txt", openFlags: 1)));
        Assert.Equal("not-permitted", ErrorName(OpenAt(root, "a.txt", openFlags: 8)));
        Assert.Equal("not-permitted", ErrorName(OpenAt(root, "a.txt", flags: 2)));
        var file = ((ResultValue)OpenAt(root, "a.txt")!).Value;
        Assert.Equal("not-permitted", ErrorName(Call(Types, "[method]descriptor.write", _context, file, new byte[1], 0UL)));
        Assert.Equal("not-permitted", ErrorName(Call(Types, "[method]descriptor.write-via-stream", _context, file, 0UL)));
        Assert.Equal("not-permitted", ErrorName(Call(Types, "[method]descriptor.unlink-file-at", _context, root, "a.txt")));
        Assert.Equal("not-permitted", ErrorName(Call(Types, "[method]descriptor.create-directory-at", _context, root, "d")));
        Assert.Equal("is-directory", ErrorName(Call(Types, "[method]descriptor.read-via-stream", _context, root, 0UL)));
        Assert.Equal("not-directory", ErrorName(OpenAt((Descriptor)file!, "x")));
        Assert.True(File.Exists(Path.Combine(_root, "a.txt")));
    }

    [Fact]
    public void No_preopens_by_default()
    {
        Assert.Empty(Assert.IsType<object?[]>(Call("wasi:filesystem/preopens", "get-directories", new WasiContext())));
    }

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }
}
