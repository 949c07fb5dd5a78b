using Spindle.Components.Host;
using Spindle.Wasi.Http;
using Spindle.Wasi.Preview2.Interfaces;

namespace Spindle.Wasi;

/// <summary>
/// The WASI 0.2 host interfaces Spindle provides (io, clocks, random, cli, filesystem, sockets, http), declared once.
/// Host functions keep no state of their own: per-store state is the store data, a
/// <see cref="Preview2.WasiContext"/> (or <see cref="WasiHttpContext"/> for wasi:http guests).
/// </summary>
public sealed class WasiHost
{
    /// <summary>The version every interface is declared at; imports of any 0.2.x patch resolve to it.</summary>
    public const string Version = "0.2.10";

    private WasiHost()
    {
        Io = new IoInterfaces(Version);
        Http = new HttpInterfaces(Version, Io);
        Interfaces =
        [
            Io.Error, Io.Poll, Io.Streams,
            ClocksRandomInterfaces.MonotonicClock(Version, Io), ClocksRandomInterfaces.WallClock(Version),
            .. ClocksRandomInterfaces.Random(Version),
            .. CliInterfaces.Create(Version, Io),
            .. FilesystemInterfaces.Create(Version, Io),
            .. SocketsInterfaces.Create(Version, Io),
            Http.Types, Http.OutgoingHandler,
        ];
    }

    /// <summary>The process-wide declarations (resource types keep their identity across every component).</summary>
    public static WasiHost Shared { get; } = new();

    /// <summary>wasi:io (its resource types are used by every other interface).</summary>
    public IoInterfaces Io { get; }

    /// <summary>wasi:http/types and outgoing-handler.</summary>
    public HttpInterfaces Http { get; }

    /// <summary>Every interface, in dependency order.</summary>
    public IReadOnlyList<HostInterface> Interfaces { get; }

    /// <summary>A new registry holding every WASI interface (others, such as Spin's, can be added to it).</summary>
    public static HostRegistry CreateRegistry() => Shared.AddTo(new HostRegistry());

    /// <summary>Adds every WASI interface to <paramref name="registry"/>.</summary>
    public HostRegistry AddTo(HostRegistry registry)
    {
        foreach (var i in Interfaces)
            registry.Add(i);
        return registry;
    }

    /// <summary>Finds an interface by name (<c>wasi:io/streams</c>).</summary>
    public HostInterface this[string name] => Interfaces.First(i => i.Name == name);
}
