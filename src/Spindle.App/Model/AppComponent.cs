namespace Spindle.App.Model;

/// <summary>A <c>[component.&lt;id&gt;]</c> entry with paths resolved.</summary>
/// <param name="Id">Kebab-case id.</param>
/// <param name="Source">Absolute path of the readable .wasm file.</param>
/// <param name="Description">Free text.</param>
/// <param name="Files">Files and folders to mount into the guest, with <c>exclude_files</c> already applied.</param>
/// <param name="Environment">Environment variables given to the guest (manifest, then <c>-e</c> overrides).</param>
/// <param name="AllowedOutboundHosts">
/// <c>allowed_outbound_hosts</c> as written (not yet merged with legacy hosts); <c>null</c> when the key is absent
/// (which matters for v1 compatibility rules).
/// </param>
/// <param name="AllowedHttpHosts">Deprecated <c>allowed_http_hosts</c> as written (empty when absent).</param>
/// <param name="Variables">Component variables: name to template (<c>{{ app_var }}</c> references).</param>
/// <param name="KeyValueStores">The key-value store labels the component may open (<c>key_value_stores</c>).</param>
/// <param name="SqliteDatabases">Declared SQLite database labels (not yet served by Spindle).</param>
public sealed record AppComponent(
    string Id,
    string Source,
    string? Description,
    IReadOnlyList<FileMount> Files,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<string>? AllowedOutboundHosts,
    IReadOnlyList<string> AllowedHttpHosts,
    IReadOnlyDictionary<string, string> Variables,
    IReadOnlyList<string> KeyValueStores,
    IReadOnlyList<string> SqliteDatabases);

/// <summary>A host file or folder made visible to the guest at <paramref name="GuestPath"/>.</summary>
/// <param name="HostPath">Absolute host path.</param>
/// <param name="GuestPath">Absolute guest path (always starts with <c>/</c>).</param>
/// <param name="IsDirectory">Whether <paramref name="HostPath"/> is a folder mounted as a whole (a preopen).</param>
public sealed record FileMount(string HostPath, string GuestPath, bool IsDirectory);
