using Spindle.Components.Binary;
using Spindle.Components.Host;
using Spindle.Components.Planning;
using Spindle.Wasmtime;

namespace Spindle.Components.Tests;

/// <summary>Corrupted component binaries must fail with <see cref="ComponentLoadException"/>, never anything else.</summary>
public class MalformedInputTests
{
    private static readonly string[] Sources =
    [
        """
        (component $root
          (import "test:host/res@0.2.0" (instance $host
            (export "counter" (type $c (sub resource)))
            (export "[constructor]counter" (func (param "start" u32) (result (own $c))))
            (export "[method]counter.inc" (func (param "self" (borrow $c)) (param "by" (list (tuple string (option u8)))) (result (result u32 (error string)))))))
          (alias export $host "counter" (type $counter))
          (type $f (flags "x" "y"))
          (type $e (enum "p" "q"))
          (core module $m (memory (export "memory") 1) (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0)))
          (core instance $m (instantiate $m))
          (core func $new (canon lower (func $host "[constructor]counter")))
          (core func $inc (canon lower (func $host "[method]counter.inc") (memory (core memory $m "memory")) (realloc (core func $m "realloc")) string-encoding=utf16))
          (core func $drop (canon resource.drop $counter))
          (component $shim
            (import "t" (type $c (sub resource)))
            (import "f" (func $f (param "c" (own $c)) (result u32)))
            (export "g" (func $f)))
          (core module $main
            (import "h" "new" (func (param i32) (result i32)))
            (import "h" "drop" (func (param i32)))
            (func (export "take") (param i32) (result i32) (local.get 0)))
          (core instance $main (instantiate $main (with "h" (instance (export "new" (func $new)) (export "drop" (func $drop))))))
          (func $take (param "c" (own $counter)) (result u32) (canon lift (core func $main "take")))
          (instance $s (instantiate $shim (with "t" (type $counter)) (with "f" (func $take))))
          (export "test:guest/x@0.2.0" (instance $s)))
        """,
    ];

    [Fact]
    public void Random_corruptions_fail_cleanly()
    {
        var rng = new Random(1234);
        var failures = new List<string>();
        var rejected = 0;
        foreach (var source in Sources)
        {
            var good = Wat.ToWasm(source);
            Plan(good); // the original is valid
            for (var i = 0; i < 3000 && failures.Count < 5; i++)
            {
                var bad = (byte[])good.Clone();
                switch (rng.Next(3))
                {
                    case 0: bad[8 + rng.Next(bad.Length - 8)] = (byte)rng.Next(256); break;
                    case 1: bad = bad[..(8 + rng.Next(bad.Length - 8))]; break;
                    default:
                        for (var k = 0; k < 4; k++) bad[8 + rng.Next(bad.Length - 8)] ^= (byte)(1 << rng.Next(8));
                        break;
                }
                try { Plan(bad); }
                catch (ComponentLoadException) { rejected++; }
                catch (Exception e) { failures.Add($"{e.GetType().Name}: {e.Message}\n{e.StackTrace}"); }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        Assert.True(rejected > 1000, $"only {rejected} corruptions were rejected");
    }

    private static void Plan(byte[] bytes) => Planner.Build(ComponentParser.Parse(bytes), new HostRegistry(), stubMissing: true);
}
