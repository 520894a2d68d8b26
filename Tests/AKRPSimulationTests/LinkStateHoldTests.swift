import AKRPEngine
import AKRPSimulation
import Testing

/// A link-state announcement, a node's own or one it forwards, waits (at most `linkStateHold`) for another
/// message to the same neighbour and leaves with it; a newer announcement about the same link replaces a
/// waiting one (docs/PROTOCOL.md §3.4).
@Suite("Link-state announcements ride with other messages")
struct LinkStateHoldTests {
    static let hold: UInt64 = 50_000_000
    static let check: UInt64 = 10_000_000

    /// 1 – 2 – 3 with link state on, handshakes done, no key yet (every level 0). Node 1 announces link
    /// 1-2, node 2 link 2-3 (the low end announces).
    static func network(hold: UInt64 = hold) throws -> ManualNetwork {
        var c = SmallNetwork.configuration()
        c.linkStateInterval = 60_000_000_000
        c.linkStateCheckInterval = check
        c.linkStateHold = hold
        c.keyAwareRouting = true
        let net = try ManualNetwork(topology: try DeliveredHoldTests.chain(3), configuration: c)
        net.run()
        return net
    }

    static func linkIndex(_ net: ManualNetwork, _ a: UInt32, _ b: UInt32) throws -> Int {
        let id = try #require(net.topology.links.first { $0.a == NodeID(a) && $0.b == NodeID(b) }?.id)
        return try #require(net.topology.index(of: id))
    }

    @Test("announcements wait their hold, then leave alone; forwarded ones wait again")
    func waitThenLeave() throws {
        let net = try Self.network()
        net.advance(by: 1)
        #expect(net.engine(NodeID(1)).heldMessages(toward: NodeID(2)) == 1)
        #expect(net.engine(NodeID(2)).heldMessages(toward: NodeID(1)) == 1)
        #expect(net.engine(NodeID(2)).heldMessages(toward: NodeID(3)) == 1)
        #expect(net.inFlightCount == 0)
        net.advance(by: Self.hold - 1)
        #expect(net.inFlightCount == 0)
        net.advance(by: 1)
        #expect(net.inFlightCount == 3)
        #expect(net.queues.flatMap { $0.map(\.message.kind) }.allSatisfy { $0 == .linkState })
        net.run()
        // Node 2 forwards node 1's announcement of 1-2 toward 3, with its own hold: node 3 has not heard it.
        #expect(net.engine(NodeID(2)).heldMessages(toward: NodeID(3)) == 1)
        #expect(net.inFlightCount == 0)
        let link12 = try Self.linkIndex(net, 1, 2)
        #expect(net.engine(NodeID(2)).counters.linkStatesHeld == 3)
        net.advance(by: Self.hold)
        #expect(net.inFlightCount == 1)
        net.run()
        #expect(net.engines.allSatisfy { e in e.neighbours.allSatisfy { e.heldMessages(toward: $0) == 0 } })
        #expect(net.engine(NodeID(3)).router.knownLevel(link: link12) == 0)
    }

    @Test("a waiting announcement leaves first with the next message to the same neighbour")
    func ridesWithTheNextMessage() throws {
        let net = try Self.network()
        net.advance(by: 1)
        for l in net.topology.links { net.supplyKey(link: l.id, count: 40) }
        net.run()
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        let queue = try #require(net.busyQueues.first)
        let sent = net.queues[queue].map(\.message)
        #expect(sent.map(\.kind) == [.linkState, .reserve])
        #expect(sent.count == 2 && sent[1].sequence == sent[0].sequence + 1)
        net.run()
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a newer announcement about the same link replaces the waiting one")
    func newerReplacesWaiting() throws {
        let net = try Self.network()
        net.advance(by: 1)
        // Key arrives on 1-2: node 1's next check announces the new level while the first one waits.
        let link12 = try Self.linkIndex(net, 1, 2)
        net.supplyKey(link: net.topology.links[link12].id, count: 40)
        net.run()
        net.advance(by: Self.check)
        #expect(net.engine(NodeID(1)).heldMessages(toward: NodeID(2)) == 1)
        #expect(net.engine(NodeID(1)).counters.linkStatesSuperseded == 1)
        #expect(net.inFlightCount == 0)
        // It leaves at the first one's deadline, and it is the newer one.
        net.advance(by: Self.hold - Self.check)
        let sent = net.queues.flatMap { $0.map(\.message) }.filter { $0.from == NodeID(1) }
        #expect(sent.count == 1 && sent[0].kind == .linkState && sent[0].index == 40)
        net.run()
        #expect(net.engine(NodeID(2)).router.knownLevel(link: link12) == 40)
    }

    @Test("hold 0 sends announcements at once")
    func offSendsAtOnce() throws {
        let net = try Self.network(hold: 0)
        net.advance(by: 1)
        #expect(net.inFlightCount == 3)
        #expect(net.engines.allSatisfy { e in e.neighbours.allSatisfy { e.heldMessages(toward: $0) == 0 } })
        #expect(net.engines.allSatisfy { $0.counters.linkStatesHeld == 0 })
    }
}
