/// A relay box. Node identifiers are configured, non-zero and unique in a network.
public struct NodeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The configured identifier; 0 means no node.
    public var rawValue: UInt32
    /// Creates a node identifier; `0` is reserved for "no node".
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Creates a node identifier from its number; `0` is reserved for "no node".
    public init(_ value: UInt32) { self.rawValue = value }
    /// The reserved "no node" value.
    public static let none = NodeID(0)
    /// Orders nodes by identifier (the low end of a link is the smaller).
    public static func < (a: NodeID, b: NodeID) -> Bool { a.rawValue < b.rawValue }
    /// The node as `n` followed by its number.
    public var description: String { "n\(rawValue)" }
}

/// A QKD link between two adjacent nodes, named by its two ends. `low` is the smaller node.
public struct LinkID: Hashable, Sendable, CustomStringConvertible {
    /// The end with the smaller node identifier.
    public var low: NodeID
    /// The end with the larger node identifier.
    public var high: NodeID
    /// Creates the link between `a` and `b`, in either order.
    public init(_ a: NodeID, _ b: NodeID) {
        if a < b { low = a; high = b } else { low = b; high = a }
    }
    /// The end of the link that is not `node`.
    public func peer(of node: NodeID) -> NodeID { node == low ? high : low }
    /// The link as its two ends, low first.
    public var description: String { "\(low)-\(high)" }
}

/// One end-to-end key request: the source node and a counter local to it.
public struct RequestID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The node that asked for the key.
    public var source: NodeID
    /// A counter chosen by the source; unique per source incarnation.
    public var serial: UInt32
    /// The request `serial` of `source`.
    public init(source: NodeID, serial: UInt32) {
        self.source = source
        self.serial = serial
    }
    /// The reserved "no request" value.
    public static let none = RequestID(source: .none, serial: 0)
    /// Orders requests by source, then serial.
    public static func < (a: RequestID, b: RequestID) -> Bool {
        (a.source.rawValue, a.serial) < (b.source.rawValue, b.serial)
    }
    /// The request as `source:serial`.
    public var description: String { "\(source.rawValue):\(serial)" }
}

/// Engine time: nanoseconds on a monotonic clock that the shell provides.
public typealias Nanoseconds = UInt64

/// The position of a key unit in a link's key stream; identical at both ends of the link.
public typealias UnitIndex = UInt64
