public import AKRPEngine
import AKRPKeySource

/// How key arrives on a link after post-processing.
public enum KeyDeliveryMode: Sendable, Equatable {
    /// Blocks at irregular intervals: the period is uniform in `mean·(1 − jitter) … mean·(1 + jitter)`
    /// and a block carries the key generated since the previous one.
    case blocks(meanPeriod: Nanoseconds, jitter: Double)
    /// Small blocks every `period` (10 ms by default): the idealised "fluid" key of simple models.
    case fluid(period: Nanoseconds)
    /// A recorded device trace: `(time, bytes)` records replayed in a loop.
    case trace(KeyTraceSchedule)
}

/// The timing part of a recorded device trace (public dataset format: 8-byte little-endian
/// nanosecond timestamp, 2-byte little-endian length, then the key bytes). The simulator uses the
/// times and lengths; the key bytes themselves come from the run's deterministic ``LinkKeyStreams``.
/// The records are parsed by ``KeyTrace/records(parsing:byteOrder:)``, the package's one trace parser.
public struct KeyTraceSchedule: Sendable, Equatable {
    /// Record times relative to the first record, ns, non-decreasing.
    public var times: [Nanoseconds]
    /// Key bytes per record.
    public var lengths: [Int]

    /// Parses the record headers of a trace.
    /// - Throws: ``NetworkError/trace(_:)`` naming the byte offset of a truncated record or a
    ///   timestamp that goes back, an empty trace, or a trace that is not a device's (longer than
    ///   a day, or more than one record per microsecond).
    public init(parsing bytes: [UInt8]) throws(NetworkError) {
        let parsed = bytes.withUnsafeBytes { raw -> Result<(times: [Nanoseconds], lengths: [Int]), KeyTraceError> in
            do throws(KeyTraceError) { return .success(try KeyTrace.records(parsing: raw)) } catch { return .failure(error) }
        }
        let t: [Nanoseconds]
        let l: [Int]
        switch parsed {
        case .success(let records): (t, l) = records
        case .failure(let error): throw .trace(error.description)
        }
        // The trace is replayed in a loop: its records must describe a device, not a flood of events.
        let span = t.last ?? 0
        guard span <= 86_400_000_000_000 else {
            throw .trace("it spans \(span) ns; at most one day (86,400 s) of records is replayed")
        }
        let loop = Double(span) + (t.count > 1 ? Double(span) / Double(t.count - 1) : 1e9)
        guard loop / Double(t.count) >= 1_000 else {
            throw .trace("\(t.count) records in \(span) ns: more than one record per microsecond is not a device trace")
        }
        times = t
        lengths = l
    }
}

/// One QKD link of a simulated network.
public struct SimLink: Sendable, Equatable {
    /// Node index (0-based) of one end.
    public var a: Int
    /// Node index (0-based) of the other end.
    public var b: Int
    /// Secret key rate after post-processing, bit/s.
    public var rate: Double
    /// Classical one-way delay, ns.
    public var delay: Nanoseconds
    /// Pool capacity in units (nil = the run's default).
    public var capacity: Int?
    /// Key delivery of this link (nil = the run's default).
    public var delivery: KeyDeliveryMode?
    /// A link between node indices `a` and `b`.
    public init(a: Int, b: Int, rate: Double, delay: Nanoseconds, capacity: Int? = nil, delivery: KeyDeliveryMode? = nil) {
        self.a = a
        self.b = b
        self.rate = rate
        self.delay = delay
        self.capacity = capacity
        self.delivery = delivery
    }
}

/// Why a network cannot be built or loaded. Every case names where the problem is.
public enum NetworkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A topology file problem at `line` (1-based; 0 = the whole file) in `field`.
    case file(line: Int, field: String, reason: String)
    /// The network is not connected.
    case disconnected(String)
    /// A built-in topology specification is wrong.
    case specification(String)
    /// A device trace is malformed.
    case trace(String)
    /// A demand file problem at `line` (1-based; 0 = the whole file) in `field`.
    case demand(line: Int, field: String, reason: String)

    /// The error as shown to a user: names the file line and field, the node or the option.
    public var description: String {
        switch self {
        case .file(let line, let field, let reason):
            line > 0 ? "topology file line \(line), field '\(field)': \(reason)" : "topology file: \(reason)"
        case .disconnected(let s): "topology is disconnected: \(s)"
        case .specification(let s): "topology: \(s)"
        case .trace(let s): "key trace: \(s)"
        case .demand(let line, let field, let reason):
            line > 0 ? "demand file line \(line), field '\(field)': \(reason)" : "demand file: \(reason)"
        }
    }
}

/// A simulated QKD network: nodes `1…n` (NodeID = index + 1) and links with key rate, delay,
/// pool capacity and key-delivery mode.
public struct SimNetwork: Sendable {
    /// Name shown in reports (`nsfnet`, a file's name, …).
    public var name: String
    /// Number of nodes.
    public var nodeCount: Int
    /// The links; a link's index is its number in traces.
    public var links: [SimLink]
    /// Optional node names (file topologies), index = node index.
    public var nodeNames: [String]

    /// Builds and checks a network.
    /// - Throws: ``NetworkError/disconnected(_:)`` when some node cannot reach node 1, or
    ///   ``NetworkError/specification(_:)`` for a bad link.
    public init(name: String, nodeCount: Int, links: [SimLink], nodeNames: [String] = []) throws(NetworkError) {
        guard nodeCount >= 2 else { throw .specification("at least 2 nodes are needed") }
        guard nodeCount <= SimNetwork.maxNodes else {
            throw .specification("at most \(SimNetwork.maxNodes) nodes (the demand keeps a hop matrix of n² entries), got \(nodeCount)")
        }
        var seen = Set<Int>()
        for (i, l) in links.enumerated() {
            guard l.a >= 0, l.a < nodeCount, l.b >= 0, l.b < nodeCount, l.a != l.b else {
                throw .specification("link \(i) joins \(l.a + 1) and \(l.b + 1)")
            }
            guard l.rate > 0 else { throw .specification("link \(i): rate must be positive") }
            let key = min(l.a, l.b) * nodeCount + max(l.a, l.b)
            guard seen.insert(key).inserted else { throw .specification("link \(i): duplicate link \(l.a + 1)-\(l.b + 1)") }
        }
        self.name = name
        self.nodeCount = nodeCount
        self.links = links
        self.nodeNames = nodeNames
        let unreachable = hopDistances(from: 0).firstIndex(of: -1)
        if let u = unreachable {
            let label = nodeNames.count > u ? "'\(nodeNames[u])'" : "\(u + 1)"
            throw .disconnected("node \(label) cannot be reached from node \(nodeNames.first.map { "'\($0)'" } ?? "1")")
        }
    }

    /// Largest network the simulator takes.
    public static let maxNodes = 10_000

    /// NodeID of node index `i`.
    @inline(__always) public func id(_ i: Int) -> NodeID { NodeID(UInt32(i + 1)) }

    /// Adjacency lists: for each node, (neighbour, link index).
    public func adjacency() -> [[(node: Int, link: Int)]] {
        var adj = Array(repeating: [(node: Int, link: Int)](), count: nodeCount)
        for (i, l) in links.enumerated() {
            adj[l.a].append((l.b, i))
            adj[l.b].append((l.a, i))
        }
        return adj
    }

    /// Hop distances from `source` (−1 = unreachable), breadth first.
    public func hopDistances(from source: Int) -> [Int] {
        let adj = adjacency()
        var d = Array(repeating: -1, count: nodeCount)
        d[source] = 0
        var queue = [source]
        var k = 0
        while k < queue.count {
            let x = queue[k]
            k += 1
            for (y, _) in adj[x] where d[y] < 0 {
                d[y] = d[x] + 1
                queue.append(y)
            }
        }
        return d
    }

    /// The engine topology of this network; rates in units of `unitBits` bits.
    public func engineTopology(unitBits: Int) -> Topology {
        // Valid by construction: checked in init.
        try! Topology(
            nodes: (0..<nodeCount).map(id),
            links: links.map {
                TopologyLink(a: id($0.a), b: id($0.b), unitsPerSecond: $0.rate / Double(unitBits), delay: $0.delay)
            })
    }

    /// Largest node degree.
    public var maxDegree: Int { adjacency().map(\.count).max() ?? 0 }
}
