import AKRPEngine
import AKRPSimulation
import Testing

/// The shell tells the engine that a neighbour's connection is gone (`Engine.linkLost`): requests route
/// around the link at once instead of waiting for their leases, and a new handshake brings it back.
@Suite("Link lost by the shell")
struct LinkLostTests {
    /// 1-2-3-4-1: two 2-hop paths from 1 to 3.
    static func ring() throws -> Topology {
        try Topology(
            nodes: (1...4).map { NodeID(UInt32($0)) },
            links: [(1, 2), (2, 3), (3, 4), (4, 1)].map {
                TopologyLink(a: NodeID(UInt32($0.0)), b: NodeID(UInt32($0.1)), unitsPerSecond: 1000, delay: 1_000_000)
            })
    }

    func network() throws -> ManualNetwork {
        let net = try ManualNetwork(topology: try Self.ring(), configuration: SmallNetwork.configuration())
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: 32) }
        net.run()
        return net
    }

    func linksUsed(_ net: ManualNetwork, _ id: RequestID) -> Set<LinkID> {
        Set(net.events.filter { $0.event.kind == .unitsConsumed && $0.event.request == id }.map(\.event.link))
    }

    @Test("a lost link is avoided by the next request, and comes back with the next handshake")
    func avoidAndReturn() throws {
        let net = try network()
        let lost = LinkID(NodeID(1), NodeID(2))
        // Where the request goes when nothing is lost (the test can tell the difference).
        let first = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.sourceKeys[first] != nil)
        let preferred = linksUsed(net, first)
        let blocked = preferred.contains(lost) ? lost : LinkID(NodeID(1), NodeID(4))
        let blockedPeer = blocked.peer(of: NodeID(1))
        net.perform(at: NodeID(1)) { e, _ in e.linkLost(toward: blockedPeer, now: net.now) }
        net.perform(at: blockedPeer) { e, _ in e.linkLost(toward: NodeID(1), now: net.now) }
        #expect(!net.engine(NodeID(1)).isLinkUp(toward: blockedPeer))
        // Messages of the lost connection are gone.
        for q in net.busyQueues { net.drop(queue: q) }
        let second = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.sourceKeys[second] != nil && net.sourceKeys[second] == net.destinationKeys[second])
        #expect(!linksUsed(net, second).contains(blocked))
        // The connection is back: hello is resent on the retry timer and both ends come up.
        net.advance(by: SmallNetwork.configuration().retryInterval)
        net.run()
        #expect(net.engine(NodeID(1)).isLinkUp(toward: blockedPeer))
        #expect(net.engine(blockedPeer).isLinkUp(toward: NodeID(1)))
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a branch reserving over a link lost on its way fails at once with link-down, not at its lease")
    func failFast() throws {
        let net = try network()
        // 1-4 is lost: the request must go 1-2-3.
        net.perform(at: NodeID(1)) { e, _ in e.linkLost(toward: NodeID(4), now: net.now) }
        net.perform(at: NodeID(4)) { e, _ in e.linkLost(toward: NodeID(1), now: net.now) }
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        // Node 2 loses 2-3 while the reservation is on its way to it.
        net.perform(at: NodeID(2)) { e, _ in e.linkLost(toward: NodeID(3), now: net.now) }
        net.perform(at: NodeID(3)) { e, _ in e.linkLost(toward: NodeID(2), now: net.now) }
        net.run()
        // No time passed: the failure is immediate, with its reason.
        #expect(net.failures[id] == .linkDown)
        #expect(net.sourceKeys[id] == nil && net.destinationKeys[id] == nil)
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 })
        // Both connections come back; the next request is delivered.
        net.advance(by: SmallNetwork.configuration().retryInterval)
        net.run()
        let again = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.sourceKeys[again] != nil && net.sourceKeys[again] == net.destinationKeys[again])
        #expect(net.checker.violations.isEmpty)
    }
}
