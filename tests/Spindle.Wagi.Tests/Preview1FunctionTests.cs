using System.Buffers.Binary;
using System.Text;
using Spindle.Wasi.Preview1;
using F = Spindle.Wasi.Preview1.WasiPreview1Functions;

namespace Spindle.Wagi.Tests;

/// <summary>
/// The preview1 function logic against a plain byte array standing in for guest memory: pointer checks, struct
/// layouts, stdio and the read-only mounts. Does not prove the Wasmtime binding (see the executor tests).
/// </summary>
public sealed class Preview1FunctionTests : IDisposable
{
    private readonly byte[] _memory = new byte[65536];
    private readonly string _dir = Directory.CreateTempSubdirectory("spindle-p1-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private WasiPreview1Context Context(IWasiInput? stdin = null, IWasiOutput? stdout = null, params WasiFileMount[] mounts) =>
        new(["/prog", "a b", "é"], [new("A", "1"), new("B", "two")], stdin ?? MemoryWasiInput.Empty,
            stdout ?? new MemoryWasiOutput(), NullWasiOutput.Instance, mounts);

    private uint U32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(_memory.AsSpan(at));
    private ulong U64(int at) => BinaryPrimitives.ReadUInt64LittleEndian(_memory.AsSpan(at));
    private void Put(int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(_memory.AsSpan(at), v);
    private void PutString(int at, string s) => Encoding.UTF8.GetBytes(s).CopyTo(_memory, at);

    private static WasiErrno Guard(Func<WasiErrno> f)
    {
        try { return f(); }
        catch (Exception e) when (F.IsErrno(e)) { return F.ToErrno(e); }
    }

    [Fact]
    public void Args_are_nul_terminated_utf8_with_pointer_table()
    {
        using var ctx = Context();
        Assert.Equal(WasiErrno.Success, F.ArgsSizesGet(ctx, _memory, 0, 4));
        Assert.Equal(3u, U32(0));
        Assert.Equal((uint)("/prog\0a b\0é\0".Length + 1), U32(4)); // é is 2 bytes
        Assert.Equal(WasiErrno.Success, F.ArgsGet(ctx, _memory, 100, 200));
        Assert.Equal(200u, U32(100));
        Assert.Equal(206u, U32(104));
        Assert.Equal("a b", Encoding.UTF8.GetString(_memory, 206, 3));
        Assert.Equal(0, _memory[209]);
    }

    [Fact]
    public void Environ_is_name_equals_value()
    {
        using var ctx = Context();
        Assert.Equal(WasiErrno.Success, F.EnvironSizesGet(ctx, _memory, 0, 4));
        Assert.Equal(2u, U32(0));
        Assert.Equal(10u, U32(4));
        Assert.Equal(WasiErrno.Success, F.EnvironGet(ctx, _memory, 100, 200));
        Assert.Equal("A=1\0B=two\0", Encoding.UTF8.GetString(_memory, 200, 10));
    }

    [Fact]
    public void Pointers_outside_memory_give_efault()
    {
        using var ctx = Context();
        Assert.Equal(WasiErrno.Fault, Guard(() => F.ArgsSizesGet(ctx, _memory, 65534, 0)));
        Assert.Equal(WasiErrno.Fault, Guard(() => F.ArgsGet(ctx, _memory, 0, 65530)));
        Assert.Equal(WasiErrno.Fault, Guard(() => F.RandomGet(_memory, 65000, 1000)));
        Assert.Equal(WasiErrno.Fault, Guard(() => F.ClockTimeGet(_memory, 1, 0, uint.MaxValue)));
    }

    [Fact]
    public void Clocks_advance_and_unknown_clock_is_einval()
    {
        Assert.Equal(WasiErrno.Success, F.ClockTimeGet(_memory, 0, 0, 0));
        var realtime = U64(0);
        Assert.InRange(realtime, (ulong)(DateTime.UtcNow.AddMinutes(-1) - DateTime.UnixEpoch).Ticks * 100, ulong.MaxValue);
        F.ClockTimeGet(_memory, 1, 0, 8);
        var a = U64(8);
        Thread.Sleep(5);
        F.ClockTimeGet(_memory, 1, 0, 8);
        Assert.True(U64(8) - a >= 4_000_000);
        Assert.Equal(WasiErrno.Inval, Guard(() => F.ClockTimeGet(_memory, 9, 0, 0)));
    }

    [Fact]
    public async Task Fd_write_to_stdout_gathers_iovecs_and_reports_count()
    {
        var stdout = new MemoryWasiOutput();
        using var ctx = Context(stdout: stdout);
        PutString(1000, "hello ");
        PutString(2000, "world");
        Put(0, 1000); Put(4, 6); Put(8, 2000); Put(12, 5);
        Assert.Equal(WasiErrno.Success, await F.FdWriteAsync(ctx, () => _memory, 1, 0, 2, 100));
        Assert.Equal(11u, U32(100));
        Assert.Equal("hello world", Encoding.UTF8.GetString(stdout.Written));
        // Bad descriptors and bad vectors.
        Assert.Equal(WasiErrno.BadF, await F.FdWriteAsync(ctx, () => _memory, 0, 0, 2, 100));
        Assert.Equal(WasiErrno.BadF, await F.FdWriteAsync(ctx, () => _memory, 42, 0, 2, 100));
        Put(16, 65530); Put(20, 100);
        Assert.Equal(WasiErrno.Fault, await F.FdWriteAsync(ctx, () => _memory, 1, 16, 1, 100));
        Assert.Equal("hello world", Encoding.UTF8.GetString(stdout.Written)); // nothing written by the bad call
    }

    [Fact]
    public async Task Fd_read_from_stdin_until_eof()
    {
        using var ctx = Context(stdin: new MemoryWasiInput("abcdef"u8.ToArray()));
        Put(0, 1000); Put(4, 4);
        Assert.Equal(WasiErrno.Success, await F.FdReadAsync(ctx, () => _memory, 0, 0, 1, 100));
        Assert.Equal(4u, U32(100));
        Assert.Equal("abcd", Encoding.ASCII.GetString(_memory, 1000, 4));
        Assert.Equal(WasiErrno.Success, await F.FdReadAsync(ctx, () => _memory, 0, 0, 1, 100));
        Assert.Equal(2u, U32(100));
        Assert.Equal(WasiErrno.Success, await F.FdReadAsync(ctx, () => _memory, 0, 0, 1, 100));
        Assert.Equal(0u, U32(100));
        Assert.Equal(WasiErrno.BadF, await F.FdReadAsync(ctx, () => _memory, 1, 0, 1, 100));
    }

    [Fact]
    public async Task Fd_read_waits_for_a_pipe_without_blocking()
    {
        var pipe = new System.IO.Pipelines.Pipe();
        using var ctx = Context(stdin: new PipeReaderWasiInput(pipe.Reader));
        Put(0, 1000); Put(4, 100);
        var read = F.FdReadAsync(ctx, () => _memory, 0, 0, 1, 100);
        Assert.False(read.IsCompleted);
        await pipe.Writer.WriteAsync("xyz"u8.ToArray(), TestContext.Current.CancellationToken);
        Assert.Equal(WasiErrno.Success, await read);
        Assert.Equal(3u, U32(100));
        await pipe.Writer.CompleteAsync();
        Assert.Equal(WasiErrno.Success, await F.FdReadAsync(ctx, () => _memory, 0, 0, 1, 100));
        Assert.Equal(0u, U32(100));
    }

    [Fact]
    public void Seek_on_stdio_is_espipe_and_fdstat_is_not_a_tty()
    {
        using var ctx = Context();
        Assert.Equal(WasiErrno.SPipe, Guard(() => F.FdSeek(ctx, _memory, 1, 0, 0, 0)));
        Assert.Equal(WasiErrno.BadF, Guard(() => F.FdSeek(ctx, _memory, 9, 0, 0, 0)));
        Assert.Equal(WasiErrno.Success, F.FdFdstatGet(ctx, _memory, 1, 0));
        Assert.NotEqual(2, _memory[0]); // a character device would make libc line-buffer stdout
        Assert.Equal(WasiErrno.BadF, Guard(() => F.FdPrestatGet(ctx, _memory, 3, 0)));
    }

    [Fact]
    public void Mounted_files_are_readable_and_cannot_be_escaped_or_written()
    {
        var inner = Directory.CreateDirectory(Path.Combine(_dir, "mount")).FullName;
        File.WriteAllText(Path.Combine(inner, "hello.txt"), "hi there");
        Directory.CreateDirectory(Path.Combine(inner, "sub"));
        File.WriteAllText(Path.Combine(_dir, "secret.txt"), "secret");
        File.CreateSymbolicLink(Path.Combine(inner, "out"), Path.Combine(_dir, "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(inner, "in"), Path.Combine(inner, "hello.txt"));
        using var ctx = Context(mounts: new WasiFileMount(inner, "/data"));

        Assert.Equal(WasiErrno.Success, F.FdPrestatGet(ctx, _memory, 3, 0));
        Assert.Equal(0, _memory[0]);
        Assert.Equal(5u, U32(4));
        Assert.Equal(WasiErrno.Success, F.FdPrestatDirName(ctx, _memory, 3, 100, 5));
        Assert.Equal("/data", Encoding.UTF8.GetString(_memory, 100, 5));

        WasiErrno Open(string path, uint oflags = 0, ulong rights = 2, uint fdflags = 0)
        {
            PutString(1000, path);
            return Guard(() => F.PathOpen(ctx, _memory, 3, 1, 1000, (uint)Encoding.UTF8.GetByteCount(path), oflags, rights, 0, fdflags, 200));
        }

        Assert.Equal(WasiErrno.Success, Open("hello.txt"));
        var fd = U32(200);
        Put(0, 3000); Put(4, 100);
        Assert.Equal(WasiErrno.Success, F.FdPread(ctx, _memory, fd, 0, 1, 3, 300));
        Assert.Equal("there", Encoding.ASCII.GetString(_memory, 3000, (int)U32(300)));
        Assert.Equal(WasiErrno.Success, F.FdSeek(ctx, _memory, fd, 0, 2, 400));
        Assert.Equal(8ul, U64(400));
        Assert.Equal(WasiErrno.Success, F.FdFilestatGet(ctx, _memory, fd, 500));
        Assert.Equal(4, _memory[516]);
        Assert.Equal(8ul, U64(532));
        Assert.Equal(WasiErrno.Success, F.FdClose(ctx, fd));
        Assert.Equal(WasiErrno.BadF, Guard(() => F.FdClose(ctx, fd)));

        Assert.Equal(WasiErrno.Success, Open("sub/../in")); // a link that stays inside
        Assert.Equal(WasiErrno.NotCapable, Open("../secret.txt"));
        Assert.Equal(WasiErrno.NotCapable, Open("sub/../../secret.txt"));
        Assert.Equal(WasiErrno.NotCapable, Open("/etc/passwd"));
        Assert.Equal(WasiErrno.NotCapable, Open("out"));
        Assert.Equal(WasiErrno.NoEnt, Open("missing.txt"));
        Assert.Equal(WasiErrno.RoFs, Open("hello.txt", oflags: 1));
        Assert.Equal(WasiErrno.RoFs, Open("new.txt", oflags: 1 | 4));
        Assert.Equal(WasiErrno.RoFs, Open("hello.txt", rights: 1 << 6));
        Assert.Equal(WasiErrno.RoFs, Open("hello.txt", fdflags: 1));
        Assert.Equal(WasiErrno.NotDir, Open("hello.txt", oflags: 2));
        Assert.Equal(WasiErrno.Success, Open("sub", oflags: 2));
        var sub = U32(200);
        Assert.Equal(WasiErrno.NotCapable, Guard(() =>
        {
            PutString(1000, "../../secret.txt");
            return F.PathOpen(ctx, _memory, sub, 1, 1000, 16, 0, 2, 0, 0, 200);
        }));
        WasiErrno Stat(string path, uint follow)
        {
            PutString(1000, path);
            return Guard(() => F.PathFilestatGet(ctx, _memory, 3, follow, 1000, (uint)Encoding.UTF8.GetByteCount(path), 600));
        }
        Assert.Equal(WasiErrno.Success, Stat("hello.txt", 1));
        Assert.Equal(4, _memory[616]);
        Assert.Equal(8ul, U64(632));
        Assert.Equal(WasiErrno.Success, Stat("sub", 1));
        Assert.Equal(3, _memory[616]);
        Assert.Equal(WasiErrno.Success, Stat("out", 0)); // the link itself may be looked at...
        Assert.Equal(7, _memory[616]);
        Assert.Equal(WasiErrno.NotCapable, Stat("out", 1)); // ...but not followed out of the mount
        Assert.Equal(WasiErrno.NotCapable, Stat("../secret.txt", 1));
        Assert.Equal(WasiErrno.NoEnt, Stat("nope", 1));

        Assert.Equal(WasiErrno.RoFs, F.ReadOnly(ctx, 3));
        Assert.Equal(WasiErrno.BadF, Guard(() => F.ReadOnly(ctx, 77)));
    }

    [Fact]
    public void Readdir_lists_entries_with_cookies()
    {
        var inner = Directory.CreateDirectory(Path.Combine(_dir, "m")).FullName;
        File.WriteAllText(Path.Combine(inner, "b.txt"), "b");
        Directory.CreateDirectory(Path.Combine(inner, "a"));
        using var ctx = Context(mounts: new WasiFileMount(inner, "/"));
        Assert.Equal(WasiErrno.Success, F.FdReaddir(ctx, _memory, 3, 1000, 4096, 0, 100));
        var used = (int)U32(100);
        var names = new List<(string, byte, ulong)>();
        for (var p = 1000; p < 1000 + used;)
        {
            var next = U64(p);
            var len = (int)U32(p + 16);
            names.Add((Encoding.UTF8.GetString(_memory, p + 24, len), _memory[p + 20], next));
            p += 24 + len;
        }
        Assert.Equal([(".", (byte)3, 1ul), ("..", (byte)3, 2ul), ("a", (byte)3, 3ul), ("b.txt", (byte)4, 4ul)], names);
        Assert.Equal(WasiErrno.Success, F.FdReaddir(ctx, _memory, 3, 1000, 4096, 3, 100));
        Assert.Equal((uint)(24 + 5), U32(100));
    }

    [Fact]
    public async Task Poll_oneoff_sleeps_for_a_relative_clock()
    {
        using var ctx = Context();
        // One clock subscription: userdata 7, monotonic, 30 ms relative.
        BinaryPrimitives.WriteUInt64LittleEndian(_memory.AsSpan(0), 7);
        _memory[8] = 0;
        Put(16, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(_memory.AsSpan(24), 30_000_000);
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(WasiErrno.Success, await F.PollOneoffAsync(ctx, () => _memory, 0, 1000, 1, 2000));
        Assert.True(started.ElapsedMilliseconds >= 25, $"slept {started.ElapsedMilliseconds} ms");
        Assert.Equal(1u, U32(2000));
        Assert.Equal(7ul, U64(1000));
        Assert.Equal(0, _memory[1010]);
        Assert.Equal(WasiErrno.Inval, await F.PollOneoffAsync(ctx, () => _memory, 0, 1000, 0, 2000));
        Assert.Equal(WasiErrno.Fault, await F.PollOneoffAsync(ctx, () => _memory, 65500, 1000, 1, 2000));
    }

    [Fact]
    public void Proc_exit_records_the_code()
    {
        using var ctx = Context();
        var e = Assert.Throws<WasiExitException>(() => F.ProcExit(ctx, 3));
        Assert.Equal(3, e.ExitCode);
        Assert.Equal(3, ctx.ExitCode);
    }
}
