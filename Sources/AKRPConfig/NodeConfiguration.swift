public import AKRPEngine

/// Everything one relay box (`akrpd`) runs from: who it is, where it listens, its neighbours and their
/// key sources, the network it routes over, and the sizes of every table. Read from the text file
/// documented in `docs/CONFIG.md` (``ConfigurationText``) or from its binary, checksummed image
/// (``ConfigurationImage``); both give the same value.
public struct NodeConfiguration: Sendable, Equatable {
    /// This box's node ID (non-zero, listed in ``topology``).
    public var node: NodeID
    /// Where the box accepts TCP connections from its neighbours.
    public var listen: NetworkAddress
    /// Path of the local control socket for `akrpctl` (created with mode 0660).
    public var controlSocket: String
    /// Directory of the durable state: incarnation counter, high-water marks, audit log. No key bytes.
    public var stateDirectory: String
    /// Engine sizes and timings (pools, tables, admission).
    public var engine: EngineConfiguration
    /// How far (in units) a link end's durable high-water mark is advanced at a time, before the engine
    /// may reference a unit past it. Larger: fewer fsyncs; smaller: less key burned after a crash.
    public var highWaterStep: UInt64
    /// The local key store (delivered end-to-end keys waiting to be fetched).
    public var keyStore: KeyStoreSettings
    /// Connections to neighbours.
    public var peers: PeerSettings
    /// The whole network, for routing.
    public var topology: TopologyDescription
    /// This box's links: one per neighbour in the topology, in the order they are written.
    public var neighbours: [NeighbourConfiguration]
    /// Least severe log level written: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String
    /// The management interface (SMP listeners, flashing); `[management]`.
    public var management = ManagementSettings()
    // MARK: key delivery (ETSI GS QKD 014)
    /// The ETSI 014 key delivery service; nil when the box serves none (docs/KEY-DELIVERY.md).
    public var keyDelivery: KeyDeliverySettings? = nil
    /// Every SAE of the network with the box it is registered at (`[sae ID]` sections).
    public var saes: [SAERegistration] = []

    /// A configuration with every optional setting at its default.
    public init(
        node: NodeID, listen: NetworkAddress, controlSocket: String, stateDirectory: String,
        topology: TopologyDescription, neighbours: [NeighbourConfiguration]
    ) {
        self.node = node
        self.listen = listen
        self.controlSocket = controlSocket
        self.stateDirectory = stateDirectory
        var engine = EngineConfiguration()
        engine.authenticationReserve = 16
        self.engine = engine
        highWaterStep = 16_384
        keyStore = KeyStoreSettings()
        peers = PeerSettings()
        self.topology = topology
        self.neighbours = neighbours
        logLevel = "info"
    }

    /// This box's name in the topology.
    public var name: String { topology.nodes.first { $0.id == node }?.name ?? "node\(node.rawValue)" }
}

/// A host and TCP port, as written (`10.0.0.2:7401`, `[::1]:7401`, `box-b.example:7401`).
public struct NetworkAddress: Sendable, Equatable, CustomStringConvertible {
    /// Host name or IP literal, without brackets.
    public var host: String
    /// TCP port, 1…65535.
    public var port: UInt16

    /// A host (name or IP literal, without brackets) and a port.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 literal.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The local key store of delivered end-to-end keys.
public struct KeyStoreSettings: Sendable, Equatable {
    /// Keys held at most; a delivery into a full store is refused and the key wiped (counted).
    public var capacity: Int = 4096
    /// How long a key waits to be fetched before it is wiped, nanoseconds.
    public var expiry: Nanoseconds = 300_000_000_000
    /// How long a local key request may wait for its key (and the destination's confirmation), ns.
    public var requestTimeout: Nanoseconds = 10_000_000_000

    /// The default key store settings.
    public init() {}
}

/// How the box keeps its neighbour connections.
public struct PeerSettings: Sendable, Equatable {
    /// First redial delay after a failed or lost connection, nanoseconds (doubles up to ``reconnectMaximum``).
    public var reconnectMinimum: Nanoseconds = 100_000_000
    /// Longest redial delay, nanoseconds.
    public var reconnectMaximum: Nanoseconds = 5_000_000_000
    /// TCP keep-alive: idle time before the first probe, and interval between probes, seconds. A peer that
    /// misses three probes is disconnected.
    public var keepAliveSeconds: Int = 5
    /// Frames from one neighbour that may wait for their authentication key unit to be delivered here.
    public var pendingFrames: Int = 1024
    /// Messages to one neighbour that may wait for authentication key before they are dropped.
    public var pendingMessages: Int = 4096

    /// The default peer settings.
    public init() {}
}

/// The network every box routes over: nodes and QKD links with their nominal rates and delays.
public struct TopologyDescription: Sendable, Equatable {
    /// One node.
    public struct Node: Sendable, Equatable {
        /// The node ID (non-zero, unique in the topology).
        public var id: NodeID
        /// The node name (`[A-Za-z0-9._-]+`, unique, not only digits).
        public var name: String
        /// A node of the topology.
        public init(id: NodeID, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// One link: its ends, nominal secret key rate in bits per second, one-way classical delay in ns.
    public struct Link: Sendable, Equatable {
        /// One end of the link.
        public var a: NodeID
        /// The other end of the link.
        public var b: NodeID
        /// Nominal secret key rate, bits per second.
        public var bitsPerSecond: UInt64
        /// One-way classical delay, nanoseconds.
        public var delay: Nanoseconds
        /// A link between `a` and `b`.
        public init(a: NodeID, b: NodeID, bitsPerSecond: UInt64, delay: Nanoseconds) {
            self.a = a
            self.b = b
            self.bitsPerSecond = bitsPerSecond
            self.delay = delay
        }
    }

    /// Every node, in written order.
    public var nodes: [Node]
    /// Every link, in written order.
    public var links: [Link]

    /// A topology of `nodes` and `links` (checked by ``NodeConfiguration/validate()``).
    public init(nodes: [Node], links: [Link]) {
        self.nodes = nodes
        self.links = links
    }

    /// The engine's topology for units of `unitSize` bytes.
    /// - Throws: ``ConfigurationError`` from ``Topology/init(nodes:links:)``.
    public func topology(unitSize: Int) throws(ConfigurationError) -> Topology {
        try Topology(
            nodes: nodes.map(\.id),
            links: links.map {
                TopologyLink(
                    a: $0.a, b: $0.b, unitsPerSecond: Double($0.bitsPerSecond) / Double(8 * max(unitSize, 1)),
                    delay: $0.delay)
            })
    }
}

/// One neighbour of this box: where to reach it and where the key of the link to it comes from.
public struct NeighbourConfiguration: Sendable, Equatable {
    /// The neighbour's node ID.
    public var node: NodeID
    /// Its peer listener. The box with the lower node ID dials; the other accepts.
    public var address: NetworkAddress
    /// The key source of the link.
    public var source: KeySourceDescription

    /// The neighbour `node`, reached at `address`, whose link key comes from `source`.
    public init(node: NodeID, address: NetworkAddress, source: KeySourceDescription) {
        self.node = node
        self.address = address
        self.source = source
    }
}

/// Where a link's key comes from.
public enum KeySourceDescription: Sendable, Equatable {
    /// A QKD device on USB, by serial number.
    case usb(serial: String)
    /// A simulated device pair: both ends, in separate processes, derive the same stream from `seed`;
    /// unit production starts at `epoch` (Unix time, nanoseconds) at `bitsPerSecond`. With a
    /// non-zero `blockPeriod` (ns) key arrives in blocks, each period varied by ±`jitter` (a fraction,
    /// 0…0.9) from the seed, as QKD post-processing delivers it.
    case simulated(seed: UInt64, epoch: UInt64, bitsPerSecond: UInt64, blockPeriod: Nanoseconds, jitter: Double)
    /// A recorded trace (the public QKD-device dataset format), replayed from the box's start.
    case trace(path: String)
}
