import AKRPEngine
import AKRPSimulation
import Testing

/// A `delivered` notice waits (at most `deliveredHold`) for another message to the same neighbour and
/// leaves with it, so that it shares that message's frame — but only while another branch at the node
/// owes that neighbour a message (docs/PROTOCOL.md §4.12).
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
        c.accumulatorCapacity = 16
        c.sourceCapacity = 16
        c.recordCapacity = 32
        configure(&c)
        let net = try ManualNetwork(topology: try chain(nodes), configuration: c)
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: 40) }
        net.run()
        return net
    }

    /// The queue of messages from `a` to `b` (as ManualNetwork numbers them: two per link, low → high first).
    static func queue(_ net: ManualNetwork, _ a: UInt32, _ b: UInt32) -> Int {
        net.topology.index(of: LinkID(NodeID(a), NodeID(b)))! * 2 + (a < b ? 0 : 1)
    }

    static func deliverAll(_ net: ManualNetwork, _ q: Int) {
        while !net.queues[q].isEmpty { net.deliver(queue: q) }
    }

    func confirmed(_ net: ManualNetwork, _ id: RequestID) -> Bool {
        net.events.contains { $0.event.kind == .destinationConfirmed && $0.event.request == id }
    }

    @Test("a lone request's notice leaves at once: nothing else would carry it")
    func loneRequest() throws {
        let net = try Self.network(nodes: 3)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(confirmed(net, id))
        #expect(net.engines.allSatisfy { e in e.neighbours.allSatisfy { e.heldNotices(toward: $0) == 0 } })
        #expect(net.checker.violations.isEmpty)
    }

    /// 1 – 2: request A 1→2 completes at node 2 while node 2's own request B to 1 is still reserving —
    /// B owes node 1 a commit, so A's notice waits for it.
    func waitingNotice() throws -> (ManualNetwork, a: RequestID, b: RequestID) {
        let net = try Self.network(nodes: 2)
        let up = Self.queue(net, 1, 2)
        let down = Self.queue(net, 2, 1)
        let a = try net.request(from: NodeID(1), to: NodeID(2), units: 2)
        net.deliver(queue: up)  // A's reserve: node 2 confirms
        let b = try net.request(from: NodeID(2), to: NodeID(1), units: 2)
        net.deliver(queue: down)  // A's confirm: node 1 commits
        #expect(net.queues[up].map(\.message.kind) == [.commit])
        net.deliver(queue: up)  // A's commit: node 2 delivers, B still reserving
        #expect(net.destinationKeys[a] != nil && net.sourceKeys[a] == net.destinationKeys[a])
        #expect(net.engine(NodeID(2)).heldNotices(toward: NodeID(1)) == 1)
        #expect(net.queues[down].map(\.message.kind) == [.reserve])
        #expect(!confirmed(net, a))
        return (net, a, b)
    }

    @Test("a notice waits while another branch owes the neighbour a message, and leaves first with it")
    func ridesWithTheNextMessage() throws {
        let (net, a, b) = try waitingNotice()
        let up = Self.queue(net, 1, 2)
        let down = Self.queue(net, 2, 1)
        let start = net.now
        net.deliver(queue: down)  // B's reserve: node 1 confirms
        net.deliver(queue: up)  // B's confirm: node 2 commits B, and A's notice goes along, first
        let sent = net.queues[down].map(\.message)
        #expect(sent.map(\.kind) == [.delivered, .commit])
        #expect(sent.count == 2 && sent[0].request == a && sent[1].sequence == sent[0].sequence + 1)
        #expect(net.engine(NodeID(2)).heldNotices(toward: NodeID(1)) == 0)
        net.run()
        #expect(confirmed(net, a) && confirmed(net, b))
        #expect(net.now == start)
        #expect(net.sourceKeys[b] != nil && net.sourceKeys[b] == net.destinationKeys[b])
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a waiting notice leaves alone when its hold runs out")
    func leavesAtTheHold() throws {
        let (net, a, _) = try waitingNotice()
        let down = Self.queue(net, 2, 1)
        net.advance(by: Self.hold - 1)
        #expect(net.engine(NodeID(2)).heldNotices(toward: NodeID(1)) == 1)
        #expect(net.queues[down].map(\.message.kind) == [.reserve])
        net.advance(by: 1)
        #expect(net.engine(NodeID(2)).heldNotices(toward: NodeID(1)) == 0)
        #expect(net.queues[down].map(\.message.kind) == [.reserve, .delivered])
        net.run()
        #expect(confirmed(net, a))
        #expect(net.checker.violations.isEmpty)
    }

    @Test("at most eight notices wait per link: the ninth sends them")
    func boundedPerLink() throws {
        // 1 – 2 – 3: request C 1→3 stays reserving at node 2 (its reserve to 3 is not delivered), so node 2
        // owes node 1 an answer and holds the notices of nine requests 1→2.
        let net = try Self.network(nodes: 3)
        let up = Self.queue(net, 1, 2)
        let down = Self.queue(net, 2, 1)
        _ = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.deliver(queue: up)
        var ids: [RequestID] = []
        for _ in 0..<9 { ids.append(try net.request(from: NodeID(1), to: NodeID(2), units: 2)) }
        Self.deliverAll(net, up)  // nine reserves: nine confirms
        Self.deliverAll(net, down)  // nine commits
        #expect(net.queues[up].count == 9)
        Self.deliverAll(net, up)  // nine deliveries at node 2: eight notices wait, the ninth sends them
        #expect(ids.allSatisfy { net.destinationKeys[$0] != nil })
        #expect(net.queues[down].map(\.message.kind) == Array(repeating: .delivered, count: 8))
        #expect(net.queues[down].map(\.message.request) == Array(ids.prefix(8)))
        #expect(net.engine(NodeID(2)).heldNotices(toward: NodeID(1)) == 1)
        net.advance(by: Self.hold)
        net.run()
        #expect(ids.allSatisfy { confirmed(net, $0) })
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a neighbour's restart drops the notices held for it")
    func droppedOnRestart() throws {
        let (net, a, _) = try waitingNotice()
        try net.restart(NodeID(1), incarnation: 2)
        net.run()
        #expect(net.engine(NodeID(2)).heldNotices(toward: NodeID(1)) == 0)
        // The notice was dropped, not sent: no run of node 1 was told of A.
        #expect(!confirmed(net, a))
        #expect(net.checker.violations.isEmpty)
    }

    @Test("hold 0 sends the notice at once even with other branches under way")
    func offSendsAtOnce() throws {
        let net = try Self.network(nodes: 2) { $0.deliveredHold = 0 }
        let up = Self.queue(net, 1, 2)
        let down = Self.queue(net, 2, 1)
        let a = try net.request(from: NodeID(1), to: NodeID(2), units: 2)
        net.deliver(queue: up)
        _ = try net.request(from: NodeID(2), to: NodeID(1), units: 2)
        net.deliver(queue: down)
        net.deliver(queue: up)
        #expect(net.engine(NodeID(2)).heldNotices(toward: NodeID(1)) == 0)
        #expect(net.queues[down].map(\.message.kind) == [.reserve, .delivered])
        net.run()
        #expect(confirmed(net, a))
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
