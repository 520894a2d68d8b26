public import AKRPEngine

/// Small networks for protocol scenarios driven by hand (`ManualNetwork`): the fixtures the scenario,
/// wire and authentication tests share.
public enum SmallNetwork {
    /// Nodes 1…n in a line, each link `rate` units/s with 1 ms delay.
    public static func line(_ n: Int, rate: Double = 1000) -> Topology {
        precondition(n >= 2, "a line has at least 2 nodes")
        // Valid by construction: distinct nodes, one link between neighbours.
        return try! Topology(
            nodes: (1...n).map { NodeID(UInt32($0)) },
            links: (1..<n).map {
                TopologyLink(a: NodeID(UInt32($0)), b: NodeID(UInt32($0 + 1)), unitsPerSecond: rate, delay: 1_000_000)
            })
    }

    /// A small engine configuration (64-unit pools, ownership blocks of 4, requests up to 8 units,
    /// 16 records) with link state off, so that every message of a scenario is the protocol's own.
    public static func configuration() -> EngineConfiguration {
        var c = EngineConfiguration()
        c.poolCapacity = 64
        c.ownershipBlock = 4
        c.maxRequestUnits = 8
        c.recordCapacity = 16
        c.accumulatorCapacity = 4
        c.sourceCapacity = 8
        c.outboxCapacity = 128
        c.eventCapacity = 128
        c.linkStateInterval = 0
        return c
    }
}
