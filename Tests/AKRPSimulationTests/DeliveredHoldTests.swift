import AKRPEngine
import AKRPSimulation
import Testing

/// A `delivered` notice nobody waits for waits (at most `deliveredHold`) for another message to the same
/// neighbour and leaves with it, so that it shares that message's frame; one a client waits for leaves
/// at once (docs/PROTOCOL.md §4.12).
@Suite("Delivered notices ride with other messages")
struct DeliveredHoldTests {
    static let hold: UInt64 = 50_000_000

    static func chain(_ n: Int) throws -> Topology {
        try Topology(
            nodes: (1...n).map { NodeID(UInt32($0)) },
            links: (1..<n).map {
                TopologyLink(a: NodeID(UInt32($0)), b: NodeID(UInt32($0 + 1)), unitsPerSecond: 1000, delay: 1_000_000)
            })
    }

    static func network(nodes: Int, configure: (inout EngineConfiguration) -> Void = { _ in }) throws -> ManualNetwork {
        var c = SmallNetwork.configuration()
        c.deliveredHold = hold
        configure(&c)
        let net = try ManualNetwork(topology: try chain(nodes), configuration: c)
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: 40) }
        net.run()
        return net
    }

    func confirmed(_ net: ManualNetwork, _ id: RequestID) -> Bool {
        net.events.contains { $0.node == NodeID(1) && $0.event.kind == .destinationConfirmed && $0.event.request == id }
    }

    /// 1 – 2 – 3: a request 1→3 delivered at both ends, its notice waiting at node 3.
    func deliveredWithNoticeWaiting() throws -> (ManualNetwork, RequestID) {
        let net = try Self.network(nodes: 3)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(net.inFlightCount == 0)
        #expect(net.engine(NodeID(3)).heldMessages(toward: NodeID(2)) == 1)
        #expect(!confirmed(net, id))
        return (net, id)
    }

    @Test("with no other traffic a notice waits its hold at every hop, then leaves alone")
    func leavesAtTheHold() throws {
        let (net, id) = try deliveredWithNoticeWaiting()
        net.advance(by: Self.hold - 1)
        #expect(net.inFlightCount == 0)
        net.advance(by: 1)
        net.run()
        // Node 2 forwards it with its own hold.
        #expect(net.engine(NodeID(3)).heldMessages(toward: NodeID(2)) == 0)
        #expect(net.engine(NodeID(2)).heldMessages(toward: NodeID(1)) == 1)
        #expect(!confirmed(net, id))
        net.advance(by: Self.hold)
        net.run()
        #expect(confirmed(net, id))
        #expect(net.engines.allSatisfy { $0.heldMessages(toward: NodeID(2)) == 0 && $0.heldUnits == 0 })
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a notice leaves at once, first, with the next message to the same neighbour")
    func ridesWithTheNextMessage() throws {
        let (net, first) = try deliveredWithNoticeWaiting()
        // A request the other way: node 3's reserve to node 2 takes the notice along, and node 2's
        // reserve to node 1 takes it on. No time passes.
        let start = net.now
        let second = try net.request(from: NodeID(3), to: NodeID(1), units: 2)
        let queue = try #require(net.busyQueues.first)
        let sent = net.queues[queue].map(\.message)
        #expect(sent.map(\.kind) == [.delivered, .reserve])
        #expect(sent.count == 2 && sent[0].request == first && sent[1].sequence == sent[0].sequence + 1)
        net.run()
        #expect(confirmed(net, first))
        #expect(net.now == start)
        #expect(net.sourceKeys[second] != nil && net.sourceKeys[second] == net.destinationKeys[second])
        #expect(net.checker.violations.isEmpty)
    }

    @Test("at most eight notices wait per link: the ninth sends them")
    func boundedPerLink() throws {
        let net = try Self.network(nodes: 2) { c in
            c.accumulatorCapacity = 16
            c.sourceCapacity = 16
            c.recordCapacity = 32
        }
        var ids: [RequestID] = []
        for _ in 0..<9 { ids.append(try net.request(from: NodeID(1), to: NodeID(2), units: 2)) }
        net.run()
        // Every confirm left node 2 before the first commit arrived: only the bound sends notices.
        #expect(ids.allSatisfy { net.destinationKeys[$0] != nil })
        #expect(ids.filter { confirmed(net, $0) }.count == 8)
        #expect(net.engine(NodeID(2)).heldMessages(toward: NodeID(1)) == 1)
        net.advance(by: Self.hold)
        net.run()
        #expect(ids.allSatisfy { confirmed(net, $0) })
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a neighbour's restart drops the notices held for it")
    func droppedOnRestart() throws {
        let (net, id) = try deliveredWithNoticeWaiting()
        try net.restart(NodeID(2), incarnation: 2)
        net.run()
        #expect(net.engine(NodeID(3)).heldMessages(toward: NodeID(2)) == 0)
        // Dropped, not sent: nothing tells node 1, even after the hold.
        net.advance(by: Self.hold)
        net.run()
        #expect(!confirmed(net, id))
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a notice a client waits for leaves at once at every hop, flagged")
    func awaitedLeavesAtOnce() throws {
        let net = try Self.network(nodes: 3)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2, awaitingConfirmation: true)
        var notices: [Message] = []
        while let q = net.busyQueues.first {
            if let m = net.queues[q].first?.message, m.kind == .delivered || m.kind == .commit { notices.append(m) }
            net.deliver(queue: q)
        }
        #expect(confirmed(net, id))
        #expect(net.engines.allSatisfy { e in e.neighbours.allSatisfy { e.heldMessages(toward: $0) == 0 } })
        // Two commits down and two notices up, every one carrying the flag.
        #expect(notices.map(\.kind) == [.commit, .commit, .delivered, .delivered])
        #expect(notices.allSatisfy { $0.reason == Message.noticeAwaited })
        #expect(net.checker.violations.isEmpty)
    }

    @Test("hold 0 sends the notice at once")
    func offSendsAtOnce() throws {
        let net = try Self.network(nodes: 3) { $0.deliveredHold = 0 }
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(confirmed(net, id))
        #expect(net.engine(NodeID(3)).heldMessages(toward: NodeID(2)) == 0)
    }

    @Test("the configuration refuses a hold over 10 s, naming the field")
    func validated() {
        var c = EngineConfiguration()
        c.deliveredHold = 10_000_000_001
        #expect(throws: ConfigurationError.invalid(field: "deliveredHold", reason: "must be 0…10 s")) { try c.validate() }
        c.deliveredHold = 10_000_000_000
        #expect(throws: Never.self) { try c.validate() }
    }
}
