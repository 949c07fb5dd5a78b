using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;

namespace Spindle.Wasi.Preview2.Interfaces;

/// <summary>
/// <c>wasi:sockets/*</c>, all denied: creating a socket or resolving a name answers <c>access-denied</c>, and since
/// no socket can exist, socket methods answer <c>not-supported</c>. Outbound networking goes through wasi:http.
/// </summary>
internal static class SocketsInterfaces
{
    private static readonly string[] ErrorCodes =
    [
        "unknown", "access-denied", "not-supported", "invalid-argument", "out-of-memory", "timeout", "concurrency-conflict",
        "not-in-progress", "would-block", "invalid-state", "new-socket-limit", "address-not-bindable", "address-in-use",
        "remote-unreachable", "connection-refused", "connection-reset", "connection-aborted", "datagram-too-large",
        "name-unresolvable", "temporary-resolver-failure", "permanent-resolver-failure",
    ];

    private static readonly ResultValue AccessDenied = ResultValue.Err(Array.IndexOf(ErrorCodes, "access-denied"));
    private static readonly ResultValue NotSupported = ResultValue.Err(Array.IndexOf(ErrorCodes, "not-supported"));

    /// <summary>The host object behind the <c>network</c> handle of <c>instance-network</c>: grants nothing.</summary>
    private sealed class DeniedNetwork;

    public static IEnumerable<HostInterface> Create(string version, IoInterfaces io)
    {
        var network = new HostInterface("wasi:sockets/network", version);
        network.UseResource("error", io.ErrorType);
        var networkType = network.DefineResource("network");
        var errorCode = T.Enum(ErrorCodes);
        var family = T.Enum("ipv4", "ipv6");
        var ipv4 = T.Tuple(T.U8, T.U8, T.U8, T.U8);
        var ipv6 = T.Tuple(T.U16, T.U16, T.U16, T.U16, T.U16, T.U16, T.U16, T.U16);
        var ipAddress = T.Variant(("ipv4", ipv4), ("ipv6", ipv6));
        var ipv4Socket = T.Record(("port", T.U16), ("address", ipv4));
        var ipv6Socket = T.Record(("port", T.U16), ("flow-info", T.U32), ("address", ipv6), ("scope-id", T.U32));
        var socketAddress = T.Variant(("ipv4", ipv4Socket), ("ipv6", ipv6Socket));
        network.DefineType("error-code", errorCode);
        network.DefineType("ip-address-family", family);
        network.DefineType("ipv4-address", ipv4);
        network.DefineType("ipv6-address", ipv6);
        network.DefineType("ip-address", ipAddress);
        network.DefineType("ipv4-socket-address", ipv4Socket);
        network.DefineType("ipv6-socket-address", ipv6Socket);
        network.DefineType("ip-socket-address", socketAddress);
        network.DefineFunc("[method]network.noop", T.Func([("self", T.Borrow(networkType))]), (_, _) => null);
        network.DefineFunc("network-error-code", T.Func([("err", T.Borrow(io.ErrorType))], T.Option(errorCode)), (_, _) => null);
        yield return network;

        var instanceNetwork = new HostInterface("wasi:sockets/instance-network", version);
        instanceNetwork.UseResource("network", networkType);
        instanceNetwork.DefineFunc("instance-network", T.Func([], T.Own(networkType)), (_, _) => new DeniedNetwork());
        yield return instanceNetwork;

        var net = ("network", (ValType)T.Borrow(networkType));
        var udp = new HostInterface("wasi:sockets/udp", version);
        Use(udp, io, networkType);
        var udpSocket = udp.DefineResource("udp-socket");
        var incomingStream = udp.DefineResource("incoming-datagram-stream");
        var outgoingStream = udp.DefineResource("outgoing-datagram-stream");
        var incomingDatagram = T.Record(("data", T.List(T.U8)), ("remote-address", socketAddress));
        var outgoingDatagram = T.Record(("data", T.List(T.U8)), ("remote-address", T.Option(socketAddress)));
        udp.DefineType("incoming-datagram", incomingDatagram);
        udp.DefineType("outgoing-datagram", outgoingDatagram);
        var methods = new Methods(udp, "udp-socket", udpSocket, errorCode);
        methods.Result("start-bind", [net, ("local-address", socketAddress)], null);
        methods.Result("finish-bind", [], null);
        methods.Result("stream", [("remote-address", T.Option(socketAddress))], T.Tuple(T.Own(incomingStream), T.Own(outgoingStream)));
        methods.Result("local-address", [], socketAddress);
        methods.Result("remote-address", [], socketAddress);
        methods.Plain("address-family", [], family, 0);
        methods.Result("unicast-hop-limit", [], T.U8);
        methods.Result("set-unicast-hop-limit", [("value", T.U8)], null);
        methods.BufferSizes();
        methods.Subscribe(io);
        new Methods(udp, "incoming-datagram-stream", incomingStream, errorCode).Result("receive", [("max-results", T.U64)], T.List(incomingDatagram));
        new Methods(udp, "incoming-datagram-stream", incomingStream, errorCode).Subscribe(io);
        var outgoing = new Methods(udp, "outgoing-datagram-stream", outgoingStream, errorCode);
        outgoing.Result("check-send", [], T.U64);
        outgoing.Result("send", [("datagrams", T.List(outgoingDatagram))], T.U64);
        outgoing.Subscribe(io);
        yield return udp;

        var udpCreate = new HostInterface("wasi:sockets/udp-create-socket", version);
        Use(udpCreate, io, networkType);
        udpCreate.UseResource("udp-socket", udpSocket);
        udpCreate.DefineFunc("create-udp-socket", T.Func([("address-family", family)], T.Result(T.Own(udpSocket), errorCode)), (_, _) => AccessDenied);
        yield return udpCreate;

        var tcp = new HostInterface("wasi:sockets/tcp", version);
        Use(tcp, io, networkType);
        tcp.UseResource("input-stream", io.InputStreamType);
        tcp.UseResource("output-stream", io.OutputStreamType);
        tcp.DefineType("duration", T.U64);
        tcp.DefineType("shutdown-type", T.Enum("receive", "send", "both"));
        var tcpSocket = tcp.DefineResource("tcp-socket");
        var t = new Methods(tcp, "tcp-socket", tcpSocket, errorCode);
        t.Result("start-bind", [net, ("local-address", socketAddress)], null);
        t.Result("finish-bind", [], null);
        t.Result("start-connect", [net, ("remote-address", socketAddress)], null);
        t.Result("finish-connect", [], T.Tuple(T.Own(io.InputStreamType), T.Own(io.OutputStreamType)));
        t.Result("start-listen", [], null);
        t.Result("finish-listen", [], null);
        t.Result("accept", [], T.Tuple(T.Own(tcpSocket), T.Own(io.InputStreamType), T.Own(io.OutputStreamType)));
        t.Result("local-address", [], socketAddress);
        t.Result("remote-address", [], socketAddress);
        t.Plain("is-listening", [], T.Bool, false);
        t.Plain("address-family", [], family, 0);
        t.Result("set-listen-backlog-size", [("value", T.U64)], null);
        t.Result("keep-alive-enabled", [], T.Bool);
        t.Result("set-keep-alive-enabled", [("value", T.Bool)], null);
        t.Result("keep-alive-idle-time", [], T.U64);
        t.Result("set-keep-alive-idle-time", [("value", T.U64)], null);
        t.Result("keep-alive-interval", [], T.U64);
        t.Result("set-keep-alive-interval", [("value", T.U64)], null);
        t.Result("keep-alive-count", [], T.U32);
        t.Result("set-keep-alive-count", [("value", T.U32)], null);
        t.Result("hop-limit", [], T.U8);
        t.Result("set-hop-limit", [("value", T.U8)], null);
        t.BufferSizes();
        t.Subscribe(io);
        t.Result("shutdown", [("shutdown-type", T.Enum("receive", "send", "both"))], null);
        yield return tcp;

        var tcpCreate = new HostInterface("wasi:sockets/tcp-create-socket", version);
        Use(tcpCreate, io, networkType);
        tcpCreate.UseResource("tcp-socket", tcpSocket);
        tcpCreate.DefineFunc("create-tcp-socket", T.Func([("address-family", family)], T.Result(T.Own(tcpSocket), errorCode)), (_, _) => AccessDenied);
        yield return tcpCreate;

        var lookup = new HostInterface("wasi:sockets/ip-name-lookup", version);
        Use(lookup, io, networkType);
        var resolveStream = lookup.DefineResource("resolve-address-stream");
        var r = new Methods(lookup, "resolve-address-stream", resolveStream, errorCode);
        r.Result("resolve-next-address", [], T.Option(ipAddress));
        r.Subscribe(io);
        lookup.DefineFunc("resolve-addresses", T.Func([net, ("name", T.String)], T.Result(T.Own(resolveStream), errorCode)), (_, _) => AccessDenied);
        yield return lookup;
    }

    private static void Use(HostInterface i, IoInterfaces io, ResourceType network)
    {
        i.UseResource("pollable", io.PollableType);
        i.UseResource("network", network);
    }

    /// <summary>Declares methods of a socket resource that no guest can ever hold.</summary>
    private sealed class Methods(HostInterface owner, string resource, ResourceType type, ValType errorCode)
    {
        private (string, ValType) Self => ("self", T.Borrow(type));

        public void Result(string name, (string, ValType)[] ps, ValType? ok) =>
            owner.DefineFunc($"[method]{resource}.{name}", T.Func([Self, .. ps], T.Result(ok, errorCode)), (_, _) => NotSupported);

        public void Plain(string name, (string, ValType)[] ps, ValType result, object value) =>
            owner.DefineFunc($"[method]{resource}.{name}", T.Func([Self, .. ps], result), (_, _) => value);

        public void BufferSizes()
        {
            Result("receive-buffer-size", [], T.U64);
            Result("set-receive-buffer-size", [("value", T.U64)], null);
            Result("send-buffer-size", [], T.U64);
            Result("set-send-buffer-size", [("value", T.U64)], null);
        }

        public void Subscribe(IoInterfaces io) =>
            owner.DefineFunc($"[method]{resource}.subscribe", T.Func([Self], T.Own(io.PollableType)), (_, _) => Io.Pollable.Ready());
    }
}
