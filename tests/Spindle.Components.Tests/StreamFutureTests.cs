using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>
/// Streams and futures the host writes, read by the guest: an <c>async func</c> returning
/// <c>tuple&lt;stream&lt;string&gt;, future&lt;result&lt;_, string&gt;&gt;&gt;</c> lowered async, then
/// <c>stream.read</c> (strings through the built-in's realloc, counts and COMPLETED/DROPPED as the spec packs them),
/// <c>future.read</c>, the drops, and the checks on handles, types, states and buffers.
/// </summary>
public class StreamFutureTests
{
    private static readonly string[] Keys = ["a", "bb", "ccc", "dd", "ü"];

    // run() -> tuple<list<u32>, list<string>>: `body` runs with the stream handle in $s and the future's in $f, records
    // statuses with $note and leaves the strings it read at 256 (their count in $read); the result tuple is at 700.
    private static string Wat(string body) => $$"""
        (component
          (type $st (stream string))
          (type $ft (future (result (error string))))
          (type $st32 (stream u32))
          (import "test:host/keys@0.2.0" (instance $host
            (export "keys" (func async (result (tuple (stream string) (future (result (error string)))))))))
          {{LibcModule}}
          (core func $keys (canon lower (func $host "keys") async (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core func $read (canon stream.read $st (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core func $read-async (canon stream.read $st async (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core func $read32 (canon stream.read $st32 (memory (core memory $libc "memory"))))
          (core func $cancel (canon stream.cancel-read $st))
          (core func $sdrop (canon stream.drop-readable $st))
          (core func $fread (canon future.read $ft (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core func $fdrop (canon future.drop-readable $ft))
          (core func $new (canon waitable-set.new))
          (core func $wsdrop (canon waitable-set.drop))
          (core func $join (canon waitable.join))
          (core func $wait (canon waitable-set.wait (memory (core memory $libc "memory"))))
          (core module $main
            (import "libc" "memory" (memory 1))
            (import "b" "keys" (func $keys (param i32) (result i32)))
            (import "b" "read" (func $read (param i32 i32 i32) (result i32)))
            (import "b" "read-async" (func $read-async (param i32 i32 i32) (result i32)))
            (import "b" "read32" (func $read32 (param i32 i32 i32) (result i32)))
            (import "b" "cancel" (func $cancel (param i32) (result i32)))
            (import "b" "sdrop" (func $sdrop (param i32)))
            (import "b" "fread" (func $fread (param i32 i32) (result i32)))
            (import "b" "fdrop" (func $fdrop (param i32)))
            (import "b" "new" (func $new (result i32)))
            (import "b" "wsdrop" (func $wsdrop (param i32)))
            (import "b" "join" (func $join (param i32 i32)))
            (import "b" "wait" (func $wait (param i32 i32) (result i32)))
            (global $notes (mut i32) (i32.const 0))
            (func $note (param i32)
              (i32.store (i32.add (i32.const 600) (i32.shl (global.get $notes) (i32.const 2))) (local.get 0))
              (global.set $notes (i32.add (global.get $notes) (i32.const 1))))
            (func (export "run") (result i32)
              (local $s i32) (local $f i32) (local $read i32) (local $r i32)
              (call $note (call $keys (i32.const 0)))
              (local.set $s (i32.load (i32.const 0)))
              (local.set $f (i32.load (i32.const 4)))
              {{body}}
              (i32.store (i32.const 700) (i32.const 600))
              (i32.store (i32.const 704) (global.get $notes))
              (i32.store (i32.const 708) (i32.const 256))
              (i32.store (i32.const 712) (local.get $read))
              (i32.const 700)))
          (core instance $main (instantiate $main (with "libc" (instance $libc))
            (with "b" (instance (export "keys" (func $keys)) (export "read" (func $read)) (export "read-async" (func $read-async))
              (export "read32" (func $read32)) (export "cancel" (func $cancel)) (export "sdrop" (func $sdrop))
              (export "fread" (func $fread)) (export "fdrop" (func $fdrop)) (export "new" (func $new))
              (export "wsdrop" (func $wsdrop)) (export "join" (func $join)) (export "wait" (func $wait))))))
          (func $run (result (tuple (list u32) (list string)))
            (canon lift (core func $main "run") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (instance $exp (export "run" (func $run)))
          (export "test:guest/run@0.2.0" (instance $exp)))
        """;

    private static HostInterface Host(object? outcome)
    {
        var iface = new HostInterface("test:host/keys", "0.2.0");
        iface.DefineAsyncFunc("keys", T.AsyncFunc([], T.Tuple(T.Stream(T.String), T.Future(T.Result(null, T.String)))), async (ctx, a) =>
        {
            await Task.Yield();
            return new object?[] { new HostStream(Keys), new HostFuture(outcome) };
        });
        return iface;
    }

    private static async Task<(uint[] Notes, string[] Read)> Run(string body, object? outcome = null)
    {
        using var component = Load(Wat(body), new HostRegistry().Add(Host(outcome ?? ResultValue.Ok())));
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
        var r = (object?[])(await inst.CallAsync(component.FindExport("test:guest/run@0.2.0", "run")!))!;
        return (((object?[])r[0]!).Select(v => (uint)v!).ToArray(), ((object?[])r[1]!).Select(v => (string)v!).ToArray());
    }

    // Reads up to `n` strings into the buffer after those already read; notes the packed result.
    private static string Read(int n, string func = "$read") =>
        $"(local.set $r (call {func} (local.get $s) (i32.add (i32.const 256) (i32.shl (local.get $read) (i32.const 3))) (i32.const {n}))) " +
        "(call $note (local.get $r)) (local.set $read (i32.add (local.get $read) (i32.shr_u (local.get $r) (i32.const 4))))";

    [Fact]
    public async Task The_guest_reads_the_whole_stream_in_parts_then_DROPPED_then_the_future()
    {
        var (notes, read) = await Run($"""
            {Read(2)} {Read(0)} {Read(10)} {Read(4)}
            (call $sdrop (local.get $s))
            (call $note (call $fread (local.get $f) (i32.const 512)))
            (call $note (i32.load8_u (i32.const 512)))
            (call $fdrop (local.get $f))
            """);
        // RETURNED; 2 read (COMPLETED | 2<<4); a zero-length read (COMPLETED | 0); the other 3; then DROPPED (1);
        // the future: COMPLETED (0), holding ok (case 0).
        Assert.Equal([2u, 0x20, 0x00, 0x30, 0x01, 0, 0], notes);
        Assert.Equal(Keys, read);
    }

    [Fact]
    public async Task An_async_read_of_an_end_in_a_waitable_set_completes_at_once_and_the_future_carries_the_error()
    {
        var (notes, read) = await Run($"""
            (local.set $r (call $new))
            (call $join (local.get $s) (local.get $r))
            (call $join (local.get $f) (local.get $r))
            {Read(9, "$read-async")}
            (call $join (local.get $s) (i32.const 0))
            (call $sdrop (local.get $s))
            (call $join (local.get $f) (i32.const 0))
            (call $note (call $fread (local.get $f) (i32.const 512)))
            (call $note (i32.load8_u (i32.const 512)))
            (call $fdrop (local.get $f))
            (call $wsdrop (i32.const 3))
            """, ResultValue.Err("backend down"));
        Assert.Equal([2u, 0x50, 0, 1], notes);
        Assert.Equal(Keys, read);
    }

    [Theory]
    [InlineData("(drop (call $read (local.get $s) (i32.const 256) (i32.const 9))) (drop (call $read (local.get $s) (i32.const 256) (i32.const 9))) (drop (call $read (local.get $s) (i32.const 256) (i32.const 1)))", "is done")]
    [InlineData("(drop (call $fread (local.get $f) (i32.const 512))) (drop (call $fread (local.get $f) (i32.const 512)))", "is done")]
    [InlineData("(drop (call $read (local.get $f) (i32.const 256) (i32.const 1)))", "refers to a readable future end, not a readable stream end")]
    [InlineData("(drop (call $read32 (local.get $s) (i32.const 256) (i32.const 1)))", "is a stream<string>, not a stream<u32>")]
    [InlineData("(drop (call $read (local.get $s) (i32.const 258) (i32.const 1)))", "not 4-byte aligned")]
    [InlineData("(drop (call $read (local.get $s) (i32.const 131000) (i32.const 100)))", "outside the 131072-byte memory")]
    [InlineData("(drop (call $read (local.get $s) (i32.const 256) (i32.const 0x10000000)))", "is more than")]
    [InlineData("(drop (call $cancel (local.get $s)))", "no read is in progress")]
    [InlineData("(drop (call $read (i32.const 77) (i32.const 256) (i32.const 1)))", "invalid handle index 77")]
    [InlineData("(call $sdrop (local.get $s)) (drop (call $read (local.get $s) (i32.const 256) (i32.const 1)))", "already dropped")]
    [InlineData("(local.set $r (call $new)) (call $join (local.get $s) (local.get $r)) (drop (call $read (local.get $s) (i32.const 256) (i32.const 1)))", "synchronous read")]
    [InlineData("(local.set $r (call $new)) (call $join (local.get $s) (local.get $r)) (call $wsdrop (local.get $r))", "still has 1 waitables")]
    [InlineData("(local.set $r (call $new)) (call $join (local.get $s) (local.get $r)) (drop (call $wait (local.get $r) (i32.const 16)))", "cannot block a synchronous task")]
    public async Task Reads_check_handles_types_states_and_buffers(string body, string message)
    {
        var e = await Assert.ThrowsAsync<ComponentTrapException>(() => Run(body));
        Assert.Contains(message, e.Message);
    }
}
