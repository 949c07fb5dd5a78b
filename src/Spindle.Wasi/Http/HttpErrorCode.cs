using Spindle.Components.Types;
using Spindle.Components.Values;

namespace Spindle.Wasi.Http;

/// <summary>The <c>wasi:http/types.error-code</c> variant: its type and short constructors for its values.</summary>
public static class HttpErrorCode
{
    /// <summary>Case names in declaration order (the index is the discriminant).</summary>
    public static readonly IReadOnlyList<string> CaseNames;

    /// <summary>The variant type.</summary>
    public static readonly VariantType Type;

    /// <summary><c>DNS-error-payload</c>.</summary>
    public static readonly RecordType DnsErrorPayload = T.Record(("rcode", T.Option(T.String)), ("info-code", T.Option(T.U16)));

    /// <summary><c>TLS-alert-received-payload</c>.</summary>
    public static readonly RecordType TlsAlertReceivedPayload = T.Record(("alert-id", T.Option(T.U8)), ("alert-message", T.Option(T.String)));

    /// <summary><c>field-size-payload</c>.</summary>
    public static readonly RecordType FieldSizePayload = T.Record(("field-name", T.Option(T.String)), ("field-size", T.Option(T.U32)));

    static HttpErrorCode()
    {
        (string, ValType?)[] cases =
        [
            ("DNS-timeout", null),
            ("DNS-error", DnsErrorPayload),
            ("destination-not-found", null),
            ("destination-unavailable", null),
            ("destination-IP-prohibited", null),
            ("destination-IP-unroutable", null),
            ("connection-refused", null),
            ("connection-terminated", null),
            ("connection-timeout", null),
            ("connection-read-timeout", null),
            ("connection-write-timeout", null),
            ("connection-limit-reached", null),
            ("TLS-protocol-error", null),
            ("TLS-certificate-error", null),
            ("TLS-alert-received", TlsAlertReceivedPayload),
            ("HTTP-request-denied", null),
            ("HTTP-request-length-required", null),
            ("HTTP-request-body-size", T.Option(T.U64)),
            ("HTTP-request-method-invalid", null),
            ("HTTP-request-URI-invalid", null),
            ("HTTP-request-URI-too-long", null),
            ("HTTP-request-header-section-size", T.Option(T.U32)),
            ("HTTP-request-header-size", T.Option(FieldSizePayload)),
            ("HTTP-request-trailer-section-size", T.Option(T.U32)),
            ("HTTP-request-trailer-size", FieldSizePayload),
            ("HTTP-response-incomplete", null),
            ("HTTP-response-header-section-size", T.Option(T.U32)),
            ("HTTP-response-header-size", FieldSizePayload),
            ("HTTP-response-body-size", T.Option(T.U64)),
            ("HTTP-response-trailer-section-size", T.Option(T.U32)),
            ("HTTP-response-trailer-size", FieldSizePayload),
            ("HTTP-response-transfer-coding", T.Option(T.String)),
            ("HTTP-response-content-coding", T.Option(T.String)),
            ("HTTP-response-timeout", null),
            ("HTTP-upgrade-failed", null),
            ("HTTP-protocol-error", null),
            ("loop-detected", null),
            ("configuration-error", null),
            ("internal-error", T.Option(T.String)),
        ];
        Type = T.Variant(cases);
        CaseNames = cases.Select(c => c.Item1).ToArray();
    }

    /// <summary>The value of case <paramref name="name"/> with <paramref name="payload"/>.</summary>
    public static VariantValue Of(string name, object? payload = null)
    {
        for (var i = 0; i < CaseNames.Count; i++)
            if (CaseNames[i] == name)
                return new VariantValue(i, payload);
        throw new ArgumentException($"no error-code case '{name}'", nameof(name));
    }

    /// <summary><c>HTTP-request-denied</c>.</summary>
    public static VariantValue RequestDenied() => Of("HTTP-request-denied");

    /// <summary><c>internal-error(some(message))</c>.</summary>
    public static VariantValue InternalError(string? message) => Of("internal-error", message is null ? null : new Some(message));

    /// <summary>The case name of a value.</summary>
    public static string NameOf(VariantValue value) => value.Case >= 0 && value.Case < CaseNames.Count ? CaseNames[value.Case] : $"case {value.Case}";
}

/// <summary>Thrown by host code (an outbound handler, a body source) to hand the guest a specific <c>error-code</c>.</summary>
public sealed class HttpErrorCodeException(VariantValue code, string? message = null)
    : Exception(message ?? $"wasi:http error {HttpErrorCode.NameOf(code)}")
{
    /// <summary>The <c>error-code</c> value.</summary>
    public VariantValue Code { get; } = code;
}
