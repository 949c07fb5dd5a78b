using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Wasmtime;
using static Spindle.Components.Tests.TestEngine;

namespace Spindle.Components.Tests;

/// <summary>
/// Component-model async on the lowering side: <c>async func</c> imports called with <c>canon lower async</c> (flat
/// parameters or a parameter pointer, results through the return pointer, the RETURNED status) or with a plain
/// <c>canon lower</c>, and the waitable-set / subtask built-ins, from the synchronous tasks Spindle runs.
/// </summary>
public class AsyncLowerTests
{
    // run(url) -> tuple<u32, string>: the status of the async-lowered call at 8, its string result (the return
    // pointer) at 12.
    private const string FetchWat = $$"""
        (component
          (import "test:host/slow@0.2.0" (instance $host
            (export "fetch" (func async (param "url" string) (result string)))))
          {{LibcModule}}
          (core func $fetch (canon lower (func $host "fetch") async (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core module $main
            (import "libc" "memory" (memory 1))
            (import "host" "fetch" (func $fetch (param i32 i32 i32) (result i32)))
            (func (export "run") (param i32 i32) (result i32)
              (i32.store (i32.const 8) (call $fetch (local.get 0) (local.get 1) (i32.const 12)))
              (i32.const 8)))
          (core instance $main (instantiate $main (with "libc" (instance $libc)) (with "host" (instance (export "fetch" (func $fetch))))))
          (func $run (param "url" string) (result (tuple u32 string))
            (canon lift (core func $main "run") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (instance $exp (export "run" (func $run)))
          (export "test:guest/run@0.2.0" (instance $exp)))
        """;

    private static async Task<object?> Run(string wat, HostInterface iface, string export, params object?[] args)
    {
        using var component = Load(wat, new HostRegistry().Add(iface));
        using var store = new WasmStore(Engine);
        using var inst = await component.InstantiateAsync(store, "state", TestContext.Current.CancellationToken);
        return await inst.CallAsync(component.FindExport("test:guest/run@0.2.0", export)!, args);
    }

    [Fact]
    public async Task Async_lowered_call_that_completes_at_once_returns_RETURNED_with_the_result_stored()
    {
        var iface = new HostInterface("test:host/slow", "0.2.0");
        iface.DefineFunc("fetch", T.AsyncFunc([("url", T.String)], T.String), (ctx, a) => $"{ctx.StoreData}:{a[0]}:ü");
        var result = (object?[])(await Run(FetchWat, iface, "run", "u1"))!;
        Assert.Equal(2u, result[0]); // Subtask.State.RETURNED, no subtask handle
        Assert.Equal("state:u1:ü", result[1]);
    }

    [Fact]
    public async Task Async_lowered_call_whose_host_task_completes_later_suspends_the_fiber_then_returns_RETURNED()
    {
        // A synchronous task may not block (Concurrency.md "Blocking"), so the host call completes before the
        // guest's call returns: the fiber waits, no thread does, and the guest sees RETURNED with its result.
        var iface = new HostInterface("test:host/slow", "0.2.0");
        iface.DefineAsyncFunc("fetch", T.AsyncFunc([("url", T.String)], T.String), async (ctx, a) =>
        {
            await Task.Delay(30, ctx.Cancellation);
            return $"late:{a[0]}";
        });
        using var component = Load(FetchWat, new HostRegistry().Add(iface));
        var export = component.FindExport("test:guest/run@0.2.0", "run")!;
        var calls = Enumerable.Range(0, 40).Select(async i =>
        {
            using var store = new WasmStore(Engine);
            using var inst = await component.InstantiateAsync(store, null, TestContext.Current.CancellationToken);
            return (object?[])(await inst.CallAsync(export, $"u{i}"))!;
        }).ToArray();
        var results = await Task.WhenAll(calls);
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(2u, results[i][0]);
            Assert.Equal($"late:u{i}", results[i][1]);
        }
    }

    [Fact]
    public async Task More_than_four_flat_parameters_are_passed_by_pointer_and_a_single_result_through_the_return_pointer()
    {
        const string wat = """
            (component
              (import "test:host/math@0.2.0" (instance $host
                (export "sum" (func async (param "a" u32) (param "b" u32) (param "c" u32) (param "d" u32) (param "e" u32) (result u32)))))
              (core module $mem (memory (export "memory") 1))
              (core instance $mem (instantiate $mem))
              (core func $sum (canon lower (func $host "sum") async (memory (core memory $mem "memory"))))
              (core module $main
                (import "m" "memory" (memory 1))
                (import "host" "sum" (func $sum (param i32 i32) (result i32)))
                (func (export "run") (result i32)
                  (i32.store (i32.const 32) (i32.const 1)) (i32.store (i32.const 36) (i32.const 2))
                  (i32.store (i32.const 40) (i32.const 3)) (i32.store (i32.const 44) (i32.const 4))
                  (i32.store (i32.const 48) (i32.const 5))
                  (if (i32.ne (call $sum (i32.const 32) (i32.const 64)) (i32.const 2)) (then unreachable))
                  (i32.load (i32.const 64))))
              (core instance $main (instantiate $main (with "m" (instance $mem)) (with "host" (instance (export "sum" (func $sum))))))
              (func $run (result u32) (canon lift (core func $main "run")))
              (instance $exp (export "run" (func $run)))
              (export "test:guest/run@0.2.0" (instance $exp)))
            """;
        var iface = new HostInterface("test:host/math", "0.2.0");
        iface.DefineAsyncFunc("sum", T.AsyncFunc([("a", T.U32), ("b", T.U32), ("c", T.U32), ("d", T.U32), ("e", T.U32)], T.U32), async (ctx, a) =>
        {
            await Task.Yield();
            return a.Aggregate(0u, (s, v) => s + (uint)v!);
        });
        Assert.Equal(15u, await Run(wat, iface, "run"));
    }

    [Fact]
    public async Task Async_lowered_return_pointer_is_bounds_and_alignment_checked()
    {
        var iface = new HostInterface("test:host/slow", "0.2.0");
        iface.DefineFunc("fetch", T.AsyncFunc([("url", T.String)], T.String), (ctx, a) => "x");
        var misaligned = FetchWat.Replace("(i32.const 12)))", "(i32.const 13)))", StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<ComponentTrapException>(() => Run(misaligned, iface, "run", "u"));
        Assert.Contains("not 4-byte aligned", e.Message);
        var outside = FetchWat.Replace("(i32.const 12)))", "(i32.const 131068)))", StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<ComponentTrapException>(() => Run(outside, iface, "run", "u"));
        Assert.Contains("out-of-bounds", e.Message);
    }

    [Fact]
    public async Task Async_function_called_with_a_plain_canon_lower_blocks_the_guest_without_a_thread()
    {
        const string wat = $$"""
            (component
              (import "test:host/slow@0.2.0" (instance $host
                (export "fetch" (func async (param "url" string) (result string)))))
              {{LibcModule}}
              (core func $fetch (canon lower (func $host "fetch") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
              (core module $main
                (import "host" "fetch" (func $fetch (param i32 i32 i32)))
                (func (export "run") (param i32 i32) (result i32)
                  (call $fetch (local.get 0) (local.get 1) (i32.const 16)) (i32.const 16)))
              (core instance $main (instantiate $main (with "host" (instance (export "fetch" (func $fetch))))))
              (func $run (param "url" string) (result string)
                (canon lift (core func $main "run") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
              (instance $exp (export "run" (func $run)))
              (export "test:guest/run@0.2.0" (instance $exp)))
            """;
        var iface = new HostInterface("test:host/slow", "0.2.0");
        iface.DefineAsyncFunc("fetch", T.AsyncFunc([("url", T.String)], T.String), async (ctx, a) => { await Task.Delay(10, ctx.Cancellation); return "sync:" + a[0]; });
        Assert.Equal("sync:u", await Run(wat, iface, "run", "u"));
    }

    [Fact]
    public async Task A_sync_function_may_be_lowered_async_too()
    {
        // canon lower async of a plain func (the spec allows it): the callee never blocks, so RETURNED.
        var iface = new HostInterface("test:host/slow", "0.2.0");
        iface.DefineFunc("fetch", T.Func([("url", T.String)], T.String), (ctx, a) => "plain:" + a[0]);
        var wat = FetchWat.Replace("(func async (param \"url\" string)", "(func (param \"url\" string)", StringComparison.Ordinal);
        var result = (object?[])(await Run(wat, iface, "run", "u"))!;
        Assert.Equal(2u, result[0]);
        Assert.Equal("plain:u", result[1]);
    }

    [Fact]
    public void Async_lowering_of_another_component_s_function_is_refused_at_load()
    {
        const string wat = """
            (component
              (component $callee
                (core module $m (func (export "f")))
                (core instance $m (instantiate $m))
                (func (export "f") (canon lift (core func $m "f"))))
              (instance $c (instantiate $callee))
              (core func (canon lower (func $c "f") async)))
            """;
        var e = Assert.Throws<ComponentLoadException>(() => Load(wat, new HostRegistry()));
        Assert.Contains("async cross-component calls", e.Message);
    }

    [Fact]
    public void Async_and_sync_function_types_do_not_match()
    {
        var iface = new HostInterface("test:host/slow", "0.2.0");
        iface.DefineFunc("fetch", T.Func([("url", T.String)], T.String), (ctx, a) => "x");
        var e = Assert.Throws<ComponentLoadException>(() => Load(FetchWat, new HostRegistry().Add(iface)));
        Assert.Contains("async func(url: string) -> string", e.Message);
        Assert.Contains("'fetch'", e.Message);
    }

    // The built-ins over one waitable set; `body` is what run does after creating it (in local $s).
    private static string BuiltinsWat(string body) => $$"""
        (component
          (core module $mem (memory (export "memory") 1))
          (core instance $mem (instantiate $mem))
          (core func $new (canon waitable-set.new))
          (core func $wait (canon waitable-set.wait (memory (core memory $mem "memory"))))
          (core func $poll (canon waitable-set.poll (memory (core memory $mem "memory"))))
          (core func $drop (canon waitable-set.drop))
          (core func $join (canon waitable.join))
          (core func $sdrop (canon subtask.drop))
          (core module $main
            (import "m" "memory" (memory 1))
            (import "b" "new" (func $new (result i32)))
            (import "b" "wait" (func $wait (param i32 i32) (result i32)))
            (import "b" "poll" (func $poll (param i32 i32) (result i32)))
            (import "b" "drop" (func $drop (param i32)))
            (import "b" "join" (func $join (param i32 i32)))
            (import "b" "sdrop" (func $sdrop (param i32)))
            (func (export "run") (result i32)
              (local $s i32)
              (local.set $s (call $new))
              {{body}}))
          (core instance $main (instantiate $main (with "m" (instance $mem))
            (with "b" (instance (export "new" (func $new)) (export "wait" (func $wait)) (export "poll" (func $poll))
                                (export "drop" (func $drop)) (export "join" (func $join)) (export "sdrop" (func $sdrop))))))
          (func $run (result u32) (canon lift (core func $main "run")))
          (instance $exp (export "run" (func $run)))
          (export "test:guest/run@0.2.0" (instance $exp)))
        """;

    private static Task<object?> RunBuiltins(string body) => Run(BuiltinsWat(body), new HostInterface("test:host/none", "0.2.0"), "run");

    [Fact]
    public async Task Poll_of_an_empty_set_reports_no_event_and_the_set_drops()
    {
        // Poll writes (waitable, payload) = (0, 0) over the 0xff filler and returns EventCode.NONE; the set is handle 1.
        var result = await RunBuiltins("""
            (i64.store (i32.const 16) (i64.const -1))
            (if (i32.ne (call $poll (local.get $s) (i32.const 16)) (i32.const 0)) (then unreachable))
            (if (i64.ne (i64.load (i32.const 16)) (i64.const 0)) (then unreachable))
            (call $drop (local.get $s))
            (local.get $s)
            """);
        Assert.Equal(1u, result);
    }

    [Theory]
    [InlineData("(drop (call $wait (local.get $s) (i32.const 16))) (i32.const 0)", "cannot block a synchronous task before returning")]
    [InlineData("(drop (call $poll (local.get $s) (i32.const 18))) (i32.const 0)", "not 4-byte aligned")]
    [InlineData("(drop (call $poll (local.get $s) (i32.const 65532))) (i32.const 0)", "outside the 65536-byte memory")]
    [InlineData("(drop (call $poll (i32.const 7) (i32.const 16))) (i32.const 0)", "invalid handle index 7")]
    [InlineData("(call $drop (local.get $s)) (call $drop (local.get $s)) (i32.const 0)", "already dropped")]
    [InlineData("(call $join (local.get $s) (i32.const 0)) (i32.const 0)", "refers to a waitable-set, not a waitable")]
    [InlineData("(call $join (i32.const 9) (local.get $s)) (i32.const 0)", "invalid handle index 9")]
    [InlineData("(call $sdrop (local.get $s)) (i32.const 0)", "refers to a waitable-set, not a subtask")]
    public async Task Built_ins_check_every_handle_and_pointer(string body, string message)
    {
        var e = await Assert.ThrowsAsync<ComponentTrapException>(() => RunBuiltins(body));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("(func (export \"f\") async (canon lift (core func $m \"f\")))", "lift of an async function type")]
    [InlineData("(func (export \"f\") (canon lift (core func $m \"f\") async))", "async-lifted export")]
    public void Async_lifts_are_refused_at_load(string lift, string message)
    {
        var wat = $$"""
            (component
              (core module $m (func (export "f")))
              (core instance $m (instantiate $m))
              {{lift}})
            """;
        var e = Assert.Throws<ComponentLoadException>(() => Load(wat, new HostRegistry()));
        Assert.Contains(message, e.Message);
        Assert.Contains("component-model async is not supported", e.Message);
    }

    [Theory]
    [InlineData("(core func (canon stream.new $st))", "stream.new/write")]
    [InlineData("(core func (canon future.write $ft (memory (core memory $m \"memory\"))))", "stream.new/write or future.new/write")]
    [InlineData("(core func (canon task.return (result u32)))", "task.return")]
    public void Guest_written_streams_and_task_built_ins_are_refused_at_load(string canon, string message)
    {
        var wat = $$"""
            (component
              (type $st (stream string))
              (type $ft (future u32))
              (core module $m (memory (export "memory") 1))
              (core instance $m (instantiate $m))
              {{canon}})
            """;
        var e = Assert.Throws<ComponentLoadException>(() => Load(wat, new HostRegistry()));
        Assert.Contains(message, e.Message);
        Assert.Contains("component-model async is not supported", e.Message);
    }
}
