namespace Spindle.Wasi.Preview1;

/// <summary>A host directory exposed read-only to the guest at <paramref name="GuestPath"/> (a preopened directory).</summary>
/// <param name="HostPath">The directory on the host.</param>
/// <param name="GuestPath">Where the guest sees it, e.g. <c>/</c> or <c>/data</c>.</param>
public sealed record WasiFileMount(string HostPath, string GuestPath);
