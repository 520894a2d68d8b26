/// A loop-free route of at most ``Path/maxHops`` links, stored inline (no heap).
public struct Path: Hashable, Sendable, CustomStringConvertible {
    /// The longest path the protocol accepts, in links.
    public static let maxHops = 16
    /// The nodes of the path, source first; only the first `nodeCount` are meaningful.
    public var nodes: InlineArray<17, UInt32>
    /// Number of nodes (`hops + 1`); 0 for the empty path.
    public internal(set) var nodeCount: UInt8

    /// The empty path.
    public init() {
        nodes = InlineArray(repeating: 0)
        nodeCount = 0
    }

    /// Builds a path from a node list.
    /// - Throws: `.tooLong` when it has more than ``maxHops`` links, `.tooShort` with fewer than 2 nodes,
    ///   `.loop` when a node repeats, `.invalidNode` for node 0.
    public init(_ list: some Sequence<NodeID>) throws(PathError) {
        self.init()
        for node in list {
            guard Int(nodeCount) < 17 else { throw .tooLong }
            guard node != .none else { throw .invalidNode }
            nodes[Int(nodeCount)] = node.rawValue
            nodeCount += 1
        }
        try validate()
    }

    /// Checks the structural rules: 2…17 nodes, no zero node, no repeated node.
    public func validate() throws(PathError) {
        guard nodeCount >= 2 else { throw .tooShort }
        guard nodeCount <= 17 else { throw .tooLong }
        // Read through a span: the indices are below `nodeCount` <= 17, checked above.
        let list = nodes.span
        let n = Int(nodeCount)
        var i = 0
        while i < n {
            let x = list[unchecked: i]
            if x == 0 { throw .invalidNode }
            var j = i + 1
            while j < n {
                if x == list[unchecked: j] { throw .loop }
                j += 1
            }
            i += 1
        }
    }

    /// Number of links.
    public var hops: Int { nodeCount == 0 ? 0 : Int(nodeCount) - 1 }
    /// The node at position `i` (0 = source).
    public subscript(i: Int) -> NodeID { NodeID(nodes[i]) }
    /// The first node: the source of the request.
    public var source: NodeID { self[0] }
    /// The last node: the destination of the request.
    public var destination: NodeID { self[Int(nodeCount) - 1] }
    /// The link of hop `h` (from node `h` to node `h + 1`).
    public func link(_ h: Int) -> LinkID { LinkID(self[h], self[h + 1]) }
    /// The position of `node` on the path, or nil.
    public func position(of node: NodeID) -> Int? {
        var i = 0
        while i < Int(nodeCount) {
            if nodes[i] == node.rawValue { return i }
            i += 1
        }
        return nil
    }
    /// Equal when the meaningful nodes are equal (the unused slots are ignored).
    public static func == (a: Path, b: Path) -> Bool {
        guard a.nodeCount == b.nodeCount else { return false }
        var i = 0
        while i < Int(a.nodeCount) {
            if a.nodes[i] != b.nodes[i] { return false }
            i += 1
        }
        return true
    }
    /// Hashes the meaningful nodes only.
    public func hash(into h: inout Hasher) {
        h.combine(nodeCount)
        var i = 0
        while i < Int(nodeCount) { h.combine(nodes[i]); i += 1 }
    }
    /// The nodes joined by `>`.
    public var description: String {
        var s = ""
        var i = 0
        while i < Int(nodeCount) {
            if i > 0 { s += ">" }
            s += String(nodes[i])
            i += 1
        }
        return s
    }
}

/// Why a path is invalid.
public enum PathError: Error, Sendable, Equatable {
    case tooShort, tooLong, loop, invalidNode
}
