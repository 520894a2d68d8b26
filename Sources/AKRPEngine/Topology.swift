/// One QKD link of the network as configured.
public struct TopologyLink: Sendable, Equatable {
    /// One end of the link.
    public var a: NodeID
    /// The other end of the link.
    public var b: NodeID
    /// Nominal secret key rate, in key units per second.
    public var unitsPerSecond: Double
    /// Classical one-way delay, nanoseconds.
    public var delay: Nanoseconds
    /// The link between `a` and `b` with its nominal key rate (units/s) and one-way delay (ns).
    public init(a: NodeID, b: NodeID, unitsPerSecond: Double, delay: Nanoseconds) {
        self.a = a
        self.b = b
        self.unitsPerSecond = unitsPerSecond
        self.delay = delay
    }
    /// The link's identifier (its ends, low first).
    public var id: LinkID { LinkID(a, b) }
}

/// The network every node knows from its configuration: nodes, links, adjacency. Immutable and shared.
public final class Topology: Sendable {
    /// The nodes, in configuration order.
    public let nodes: [NodeID]
    /// The links, in configuration order (their index is the link number).
    public let links: [TopologyLink]
    let nodeIndex: [NodeID: Int]
    let linkIndex: [LinkID: Int]
    /// Adjacency in compressed rows: neighbours of node i are `adjacency[adjStart[i]..<adjStart[i+1]]`.
    let adjStart: [Int]
    let adjNode: [Int]
    let adjLink: [Int]

    /// Builds and checks a topology.
    /// - Throws: ``ConfigurationError/topology(_:)`` for a zero or duplicate node, a link to an unknown
    ///   node, a self-loop, a duplicate link, or a non-positive rate.
    public init(nodes: [NodeID], links: [TopologyLink]) throws(ConfigurationError) {
        var ni: [NodeID: Int] = [:]
        for (i, n) in nodes.enumerated() {
            if n == .none { throw .topology("node \(i): node id 0 is reserved") }
            if ni[n] != nil { throw .topology("node \(n.rawValue) listed twice") }
            ni[n] = i
        }
        var li: [LinkID: Int] = [:]
        var deg = [Int](repeating: 0, count: nodes.count)
        for (i, l) in links.enumerated() {
            guard let x = ni[l.a] else { throw .topology("link \(i): unknown node \(l.a.rawValue)") }
            guard let y = ni[l.b] else { throw .topology("link \(i): unknown node \(l.b.rawValue)") }
            if x == y { throw .topology("link \(i): node \(l.a.rawValue) linked to itself") }
            if li[l.id] != nil { throw .topology("link \(i): duplicate link \(l.id)") }
            if !(l.unitsPerSecond > 0) { throw .topology("link \(i): rate must be positive") }
            li[l.id] = i
            deg[x] += 1
            deg[y] += 1
        }
        var start = [Int](repeating: 0, count: nodes.count + 1)
        for i in 0..<nodes.count { start[i + 1] = start[i] + deg[i] }
        var fill = start
        var an = [Int](repeating: 0, count: start[nodes.count])
        var al = an
        for (i, l) in links.enumerated() {
            let x = ni[l.a]!, y = ni[l.b]!
            an[fill[x]] = y; al[fill[x]] = i; fill[x] += 1
            an[fill[y]] = x; al[fill[y]] = i; fill[y] += 1
        }
        self.nodes = nodes
        self.links = links
        nodeIndex = ni
        linkIndex = li
        adjStart = start
        adjNode = an
        adjLink = al
    }

    /// Index of a link in ``links``.
    public func index(of link: LinkID) -> Int? { linkIndex[link] }
    /// Index of a node in ``nodes``.
    public func index(of node: NodeID) -> Int? { nodeIndex[node] }
    /// Neighbours of `node` with the index of the link to each.
    public func neighbours(of node: NodeID) -> [(node: NodeID, link: Int)] {
        guard let i = nodeIndex[node] else { return [] }
        return (adjStart[i]..<adjStart[i + 1]).map { (nodes[adjNode[$0]], adjLink[$0]) }
    }

    /// Whether every node can reach every other.
    public var isConnected: Bool {
        guard !nodes.isEmpty else { return true }
        var seen = [Bool](repeating: false, count: nodes.count)
        var stack = [0]
        seen[0] = true
        var n = 1
        while let x = stack.popLast() {
            for k in adjStart[x]..<adjStart[x + 1] where !seen[adjNode[k]] {
                seen[adjNode[k]] = true
                n += 1
                stack.append(adjNode[k])
            }
        }
        return n == nodes.count
    }
}
