using Spindle.Components.Host;
using Spindle.Components.Runtime;
using Spindle.Components.Types;
using Spindle.Trigger.Http.Spin.Legacy;
using Spindle.Wasi.Preview1;
using Spindle.Wasmtime;

namespace Spindle.Trigger.Http.Executors.SpinInbound;

/// <summary>
/// The core modules of Spin's first SDKs, which Spin adapts to components as it loads them (spin-componentize), and
/// Spindle binds directly (<see cref="Component.LoadCoreModule"/>):
/// <list type="bullet">
/// <item>Spin ≤ 1.3 (wit-bindgen 0.2): exports <c>handle-http-request</c>, <c>canonical_abi_realloc</c> and
/// <c>canonical_abi_free</c>; imports <c>spin-config</c>, <c>wasi-outbound-http</c>, <c>key-value</c>, <c>sqlite</c>…</item>
/// <item>Spin 1.4/1.5: exports <c>fermyon:spin/inbound-http#handle-request</c>, <c>cabi_realloc</c> and its
/// <c>cabi_post_</c> function; imports <c>fermyon:spin/config</c>, <c>fermyon:spin/http</c>…</item>
/// </list>
/// Both use the canonical ABI's layouts, so each becomes a component exporting <c>fermyon:spin/inbound-http</c>
/// whose imports are Spin's unversioned interfaces; WASI preview1 imports are served directly. A reactor's
/// <c>_initialize</c> is exported for the executor to call once per instance, before the handler (wasi-libc sets up
/// its preopened directories there); a command's <c>_start</c> is never called, as in Spin.
/// </summary>
public static class LegacySpinModule
{
    /// <summary>The interface the inbound export is lifted as.</summary>
    public const string InboundInterface = "fermyon:spin/inbound-http";

    /// <summary>Its function.</summary>
    public const string HandleRequest = "handle-request";

    /// <summary>The reactor initialiser, lifted as a top-level function.</summary>
    public const string Initialize = "_initialize";

    private const string Generation1Export = "handle-http-request";
    private const string Generation2Export = InboundInterface + "#" + HandleRequest;

    // Spin ≤ 1.3 import module names and the interfaces that serve them (same types, newer names).
    private static readonly Dictionary<string, string> Generation1Modules = new(StringComparer.Ordinal)
    {
        ["spin-config"] = "fermyon:spin/config",
        ["wasi-outbound-http"] = "fermyon:spin/http",
        ["key-value"] = "fermyon:spin/key-value",
        ["sqlite"] = "fermyon:spin/sqlite",
    };

    /// <summary>True when <paramref name="bytes"/> is a core module (wasm version 1) rather than a component.</summary>
    public static bool IsCoreModule(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 8 && bytes[..4].SequenceEqual("\0asm"u8) && bytes[4..8].SequenceEqual(new byte[] { 1, 0, 0, 0 });

    /// <summary>The host interfaces these modules import, on top of <paramref name="registry"/>.</summary>
    public static HostRegistry AddInterfaces(HostRegistry registry) =>
        LegacySpinInterfaces.AddTo(Spindle.Spin.Legacy.LegacyStateInterfaces.AddTo(registry));

    /// <summary>Loads a module of either generation; a module of neither is refused, naming what was expected.</summary>
    /// <exception cref="Spindle.Components.ComponentLoadException">Not such a module, or it imports what no interface serves.</exception>
    public static Component Load(WasmEngine engine, byte[] module, HostRegistry host, IProgress<string>? progress)
    {
        var exports = Component.CoreModuleExports(module);
        (string Handle, string Realloc, string? PostReturn) convention =
            exports.Contains(Generation2Export) ? (Generation2Export, "cabi_realloc", "cabi_post_" + Generation2Export)
            : exports.Contains(Generation1Export) ? (Generation1Export, "canonical_abi_realloc", (string?)null)
            : throw new Spindle.Components.ComponentLoadException(
                $"this core module exports neither '{Generation1Export}' (Spin ≤ 1.3) nor '{Generation2Export}' (Spin 1.4/1.5); a WASI command needs executor = {{ type = \"wagi\" }}");
        var (handle, realloc, postReturn) = convention;
        var binding = new CoreModuleBinding
        {
            Import = (moduleName, name) =>
                Generation1Modules.TryGetValue(moduleName, out var iface)
                    ? (iface, moduleName == "wasi-outbound-http" && name == "request" ? "send-request" : name)
                    : moduleName.StartsWith("fermyon:spin/", StringComparison.Ordinal) && !moduleName.Contains('@') ? (moduleName, name) : null,
            CoreHostModules = new HashSet<string> { WasiPreview1Linker.ModuleName },
            DefineCoreHost = (linker, compiled) =>
            {
                WasiPreview1Linker.Define(linker);
                WasiPreview1Linker.DefineMissing(linker, compiled);
            },
            Exports =
            [
                new CoreModuleExport(handle, InboundInterface, HandleRequest, LegacyHttpTypes.HandleRequest, postReturn),
                new CoreModuleExport(Initialize, "", Initialize, T.Func([]), Optional: true),
            ],
            Realloc = exports.Contains(realloc) ? realloc : null,
        };
        return Component.LoadCoreModule(engine, module, host, binding, progress);
    }
}
