using System.Text;
using Spindle.Components.Types;
using Spindle.Wasi.Http;

namespace Spindle.Wasi.Tests;

/// <summary>
/// Hand-written wasi:http guests (component WAT). Each imports only the functions it uses, with the exact
/// WIT types, and exports <c>wasi:http/incoming-handler@0.2.10#handle</c>; the handler body depends on the mode.
/// </summary>
internal static class WatGuests
{
    public const string Hello = """
        (local.set $os (call $start (local.get $out) (call $fields-new)))
        (call $write (local.get $os) (i32.const 2048) (i32.const 15) (i32.const 1040))
        (call $drop-os (local.get $os))
        (call $body-finish (global.get $body) (i32.const 0) (i32.const 0) (i32.const 1040))
        """;

    /// <summary>Streams the request body back, chunk by chunk, as it arrives.</summary>
    public const string Echo = """
        (local.set $os (call $start (local.get $out) (call $fields-new)))
        (call $consume (local.get $req) (i32.const 1024))
        (call $stream (i32.load (i32.const 1028)) (i32.const 1024))
        (local.set $is (i32.load (i32.const 1028)))
        (block $done
          (loop $next
            (call $read (local.get $is) (i64.const 65536) (i32.const 1024))
            (br_if $done (i32.load8_u (i32.const 1024)))
            (call $write (local.get $os) (i32.load (i32.const 1028)) (i32.load (i32.const 1032)) (i32.const 1040))
            (br_if $done (i32.load8_u (i32.const 1040)))
            (br $next)))
        (call $drop-os (local.get $os))
        (call $body-finish (global.get $body) (i32.const 0) (i32.const 0) (i32.const 1040))
        """;

    public const string TrapAfterHeaders = """
        (local.set $os (call $start (local.get $out) (call $fields-new)))
        (call $write (local.get $os) (i32.const 2048) (i32.const 15) (i32.const 1040))
        ;; Wait 100 ms: the head and what was written go out while the guest waits (long enough that the wait is
        ;; real even when a loaded machine deschedules the guest between subscribing and blocking).
        (call $block (call $sleep (i64.const 100000000)))
        unreachable
        """;

    /// <summary>Hello with a header: <c>x-wat: yes</c>.</summary>
    public const string HelloWithHeader = """
        (local.set $fields (call $fields-new))
        (call $append (local.get $fields) (i32.const 2100) (i32.const 5) (i32.const 2110) (i32.const 3) (i32.const 1040))
        (local.set $os (call $start (local.get $out) (local.get $fields)))
        (call $write (local.get $os) (i32.const 2048) (i32.const 15) (i32.const 1040))
        (call $drop-os (local.get $os))
        (call $body-finish (global.get $body) (i32.const 0) (i32.const 0) (i32.const 1040))
        """;

    /// <summary>A header value that is valid for wasi:http (obs-text) but that Kestrel will not send.</summary>
    public const string NonAsciiHeader = """
        (local.set $fields (call $fields-new))
        (call $append (local.get $fields) (i32.const 2100) (i32.const 5) (i32.const 2120) (i32.const 2) (i32.const 1040))
        (local.set $os (call $start (local.get $out) (local.get $fields)))
        (call $write (local.get $os) (i32.const 2048) (i32.const 15) (i32.const 1040))
        (call $drop-os (local.get $os))
        (call $body-finish (global.get $body) (i32.const 0) (i32.const 0) (i32.const 1040))
        """;

    public const string TrapBeforeResponse = "unreachable";

    /// <summary>Drops an output-stream handle the guest never had: the runtime must trap, not touch host state.</summary>
    public const string DropUnknownHandle = "(call $drop-os (i32.const 7))";

    /// <summary>Drops its response stream and then writes to it: a use after drop.</summary>
    public const string WriteAfterDrop = """
        (local.set $os (call $start (local.get $out) (call $fields-new)))
        (call $drop-os (local.get $os))
        (call $write (local.get $os) (i32.const 2048) (i32.const 15) (i32.const 1040))
        """;

    public const string NoResponse = "";

    public const string SpinForever = "(loop $spin (br $spin))";

    public static string Component(string handleBody) => Template
        .Replace("$ERROR_CODE", Wat(HttpErrorCode.Type), StringComparison.Ordinal)
        .Replace("$HANDLE_BODY", handleBody, StringComparison.Ordinal);

    private const string Template = """
        (component $root
          (import "wasi:io/error@0.2.10" (instance $io-error (export "error" (type (sub resource)))))
          (alias export $io-error "error" (type $error))
          (import "wasi:io/streams@0.2.10" (instance $streams
            (export "input-stream" (type $is (sub resource)))
            (export "output-stream" (type $os (sub resource)))
            (alias outer $root $error (type $err0))
            (export "error" (type $err (eq $err0)))
            (type $se0 (variant (case "last-operation-failed" (own $err)) (case "closed")))
            (export "stream-error" (type $se (eq $se0)))
            (export "[method]input-stream.blocking-read" (func (param "self" (borrow $is)) (param "len" u64) (result (result (list u8) (error $se)))))
            (export "[method]output-stream.blocking-write-and-flush" (func (param "self" (borrow $os)) (param "contents" (list u8)) (result (result (error $se)))))))
          (import "wasi:io/poll@0.2.10" (instance $poll
            (export "pollable" (type $p (sub resource)))
            (export "[method]pollable.block" (func (param "self" (borrow $p))))))
          (alias export $poll "pollable" (type $pollable))
          (import "wasi:clocks/monotonic-clock@0.2.10" (instance $clock
            (alias outer $root $pollable (type $p0))
            (export "pollable" (type $p (eq $p0)))
            (export "subscribe-duration" (func (param "when" u64) (result (own $p))))))
          (alias export $streams "input-stream" (type $input-stream))
          (alias export $streams "output-stream" (type $output-stream))
          (import "wasi:http/types@0.2.10" (instance $http
            (alias outer $root $input-stream (type $is0))
            (export "input-stream" (type $is (eq $is0)))
            (alias outer $root $output-stream (type $os0))
            (export "output-stream" (type $os (eq $os0)))
            (export "fields" (type $fields (sub resource)))
            (export "incoming-request" (type $ireq (sub resource)))
            (export "incoming-body" (type $ibody (sub resource)))
            (export "outgoing-response" (type $oresp (sub resource)))
            (export "outgoing-body" (type $obody (sub resource)))
            (export "response-outparam" (type $out (sub resource)))
            (type $ec0 $ERROR_CODE)
            (export "error-code" (type $ec (eq $ec0)))
            (export "[constructor]fields" (func (result (own $fields))))
            (type $he0 (variant (case "invalid-syntax") (case "forbidden") (case "immutable")))
            (export "header-error" (type $he (eq $he0)))
            (export "[method]fields.append" (func (param "self" (borrow $fields)) (param "name" string) (param "value" (list u8)) (result (result (error $he)))))
            (export "[constructor]outgoing-response" (func (param "headers" (own $fields)) (result (own $oresp))))
            (export "[method]outgoing-response.body" (func (param "self" (borrow $oresp)) (result (result (own $obody)))))
            (export "[method]outgoing-body.write" (func (param "self" (borrow $obody)) (result (result (own $os)))))
            (export "[static]outgoing-body.finish" (func (param "this" (own $obody)) (param "trailers" (option (own $fields))) (result (result (error $ec)))))
            (export "[static]response-outparam.set" (func (param "param" (own $out)) (param "response" (result (own $oresp) (error $ec)))))
            (export "[method]incoming-request.consume" (func (param "self" (borrow $ireq)) (result (result (own $ibody)))))
            (export "[method]incoming-body.stream" (func (param "self" (borrow $ibody)) (result (result (own $is)))))))
          (alias export $http "incoming-request" (type $incoming-request))
          (alias export $http "response-outparam" (type $response-outparam))

          ;; Memory and a realloc that always hands out the same 64 KiB buffer (each read is consumed before the next).
          (core module $libc
            (memory (export "memory") 3)
            (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 65536)))
          (core instance $libc (instantiate $libc))

          (core func $fields-new (canon lower (func $http "[constructor]fields")))
          (core func $append (canon lower (func $http "[method]fields.append") (memory (core memory $libc "memory"))))
          (core func $resp-new (canon lower (func $http "[constructor]outgoing-response")))
          (core func $resp-body (canon lower (func $http "[method]outgoing-response.body") (memory (core memory $libc "memory"))))
          (core func $body-write (canon lower (func $http "[method]outgoing-body.write") (memory (core memory $libc "memory"))))
          (core func $body-finish (canon lower (func $http "[static]outgoing-body.finish") (memory (core memory $libc "memory"))))
          (core func $set (canon lower (func $http "[static]response-outparam.set") (memory (core memory $libc "memory"))))
          (core func $consume (canon lower (func $http "[method]incoming-request.consume") (memory (core memory $libc "memory"))))
          (core func $stream (canon lower (func $http "[method]incoming-body.stream") (memory (core memory $libc "memory"))))
          (core func $read (canon lower (func $streams "[method]input-stream.blocking-read") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core func $write (canon lower (func $streams "[method]output-stream.blocking-write-and-flush") (memory (core memory $libc "memory"))))
          (core func $drop-os (canon resource.drop $output-stream))
          (core func $sleep (canon lower (func $clock "subscribe-duration")))
          (core func $block (canon lower (func $poll "[method]pollable.block")))

          (core module $main
            (import "libc" "memory" (memory 1))
            (import "h" "fields-new" (func $fields-new (result i32)))
            (import "h" "append" (func $append (param i32 i32 i32 i32 i32 i32)))
            (import "h" "resp-new" (func $resp-new (param i32) (result i32)))
            (import "h" "resp-body" (func $resp-body (param i32 i32)))
            (import "h" "body-write" (func $body-write (param i32 i32)))
            (import "h" "body-finish" (func $body-finish (param i32 i32 i32 i32)))
            (import "h" "set" (func $set (param i32 i32 i32 i32 i64 i32 i32 i32 i32)))
            (import "h" "consume" (func $consume (param i32 i32)))
            (import "h" "stream" (func $stream (param i32 i32)))
            (import "h" "read" (func $read (param i32 i64 i32)))
            (import "h" "write" (func $write (param i32 i32 i32 i32)))
            (import "h" "drop-os" (func $drop-os (param i32)))
            (import "h" "sleep" (func $sleep (param i64) (result i32)))
            (import "h" "block" (func $block (param i32)))
            (global $body (mut i32) (i32.const 0))
            (data (i32.const 2048) "hello from wat\n")
            (data (i32.const 2100) "x-wat")
            (data (i32.const 2110) "yes")
            (data (i32.const 2120) "\c3\a9")
            ;; Builds a 200 response with an empty header set, takes its body stream, sets the outparam.
            (func $start (param $out i32) (param $fields i32) (result i32) (local $resp i32) (local $os i32)
              (local.set $resp (call $resp-new (local.get $fields)))
              (call $resp-body (local.get $resp) (i32.const 1024))
              (global.set $body (i32.load (i32.const 1028)))
              (call $body-write (global.get $body) (i32.const 1024))
              (local.set $os (i32.load (i32.const 1028)))
              (call $set (local.get $out) (i32.const 0) (local.get $resp) (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))
              (local.get $os))
            (func (export "handle") (param $req i32) (param $out i32) (local $os i32) (local $is i32) (local $fields i32)
              $HANDLE_BODY))
          (core instance $main (instantiate $main
            (with "libc" (instance $libc))
            (with "h" (instance
              (export "fields-new" (func $fields-new)) (export "append" (func $append)) (export "resp-new" (func $resp-new))
              (export "resp-body" (func $resp-body)) (export "body-write" (func $body-write))
              (export "body-finish" (func $body-finish)) (export "set" (func $set))
              (export "consume" (func $consume)) (export "stream" (func $stream))
              (export "read" (func $read)) (export "write" (func $write)) (export "drop-os" (func $drop-os))
              (export "sleep" (func $sleep)) (export "block" (func $block))))))
          (func $handle (param "request" (own $incoming-request)) (param "response-out" (own $response-outparam))
            (canon lift (core func $main "handle")))
          (instance $handler (export "handle" (func $handle)))
          (export "wasi:http/incoming-handler@0.2.10" (instance $handler)))
        """;

    /// <summary>Writes a component value type as WAT (for the big error-code variant).</summary>
    public static string Wat(ValType type) => type switch
    {
        PrimitiveType p => p.Kind.ToString().ToLowerInvariant(),
        ListType l => $"(list {Wat(l.Element)})",
        OptionType o => $"(option {Wat(o.Inner)})",
        TupleType t => $"(tuple {string.Join(' ', t.Elements.Select(Wat))})",
        RecordType r => $"(record {string.Join(' ', r.Fields.Select(f => $"(field \"{f.Name}\" {Wat(f.Type)})"))})",
        VariantType v => $"(variant {string.Join(' ', v.Cases.Select(c => c.Payload is null ? $"(case \"{c.Name}\")" : $"(case \"{c.Name}\" {Wat(c.Payload)})"))})",
        _ => throw new NotSupportedException(type.GetType().Name),
    };
}
