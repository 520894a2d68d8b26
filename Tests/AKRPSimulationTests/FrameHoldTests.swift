import AKRPEngine
import AKRPSimulation
import Testing

/// On a busy link — smoothed interval between frames at most `frameHold` — whose key is not abundant (less
/// than 90 % of the pool delivered and free), a `reserve`, `confirm` or `fail` waits up to the hold for
/// other messages to the same neighbour and leaves in one frame with them; on a quiet link, or one with
/// plenty of key, it leaves at once (docs/PROTOCOL.md §3.5).
@Suite("Reservation messages share frames on busy links")
struct FrameHoldTests {
    static let hold: UInt64 = 20_000_000
    static let gap: UInt64 = 1_000_000

    /// 1 – 2 – 3 with `key` units on both links (of 1,024-unit pools), handshakes done.
    static func network(hold: UInt64 = hold, key: Int = 600) throws -> ManualNetwork {
        var c = SmallNetwork.configuration()
        c.poolCapacity = 1024
        c.recordCapacity = 64
        c.frameHold = hold
        let net = try ManualNetwork(topology: try DeliveredHoldTests.chain(3), configuration: c)
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: key) }
        net.run()
        return net
    }

    static func queue(_ net: ManualNetwork, from: UInt32, to: UInt32) -> [Message] {
        net.queues.flatMap { $0.map(\.message) }.filter { $0.from == NodeID(from) && $0.to == NodeID(to) }
    }

    /// Runs one-unit requests 1 → 2 a millisecond apart, each to completion (`delivered` notices may still
    /// wait for company), until node 1 holds a reserve (returns how many went out at once before) or
    /// `limit` requests were made (returns nil).
    static func makeBusy(_ net: ManualNetwork, limit: Int = 80) throws -> Int? {
        for n in 0..<limit {
            _ = try net.request(from: NodeID(1), to: NodeID(2), units: 1)
            if net.engine(NodeID(1)).heldMessages(toward: NodeID(2)) == 1 { return n }
            #expect(queue(net, from: 1, to: 2).map(\.kind) == [.reserve])
            net.run()
            net.advance(by: gap)
        }
        return nil
    }

    @Test("a quiet link sends at once; once busy, a reserve waits its hold and then leaves")
    func quietThenBusy() throws {
        let net = try Self.network()
        let quiet = try #require(try Self.makeBusy(net))
        // The interval starts at 1 s and is smoothed with weight 0.1: tens of frames before it is 20 ms.
        #expect(quiet > 10)
        #expect(net.inFlightCount == 0)
        #expect(net.engine(NodeID(1)).counters.reservationMessagesHeld == 1)
        net.advance(by: Self.hold - 1)
        #expect(net.inFlightCount == 0)
        net.advance(by: 1)
        #expect(Self.queue(net, from: 1, to: 2).map(\.kind) == [.reserve])
        for _ in 0..<4 {
            net.run()
            net.advance(by: Self.hold)
        }
        net.run()
        #expect(net.sourceKeys.count == quiet + 1)
        #expect(net.sourceKeys.allSatisfy { net.destinationKeys[$0.key] == $0.value })
        #expect(net.checker.violations.isEmpty)
    }

    @Test("messages waiting together leave in one frame; a held reserve leaves before a later commit")
    func rideTogetherInOrder() throws {
        let net = try Self.network()
        _ = try #require(try Self.makeBusy(net))
        // A second reserve joins the first: both leave at the first one's deadline, one after the other.
        let b = try net.request(from: NodeID(1), to: NodeID(2), units: 1)
        #expect(net.engine(NodeID(1)).heldMessages(toward: NodeID(2)) == 2)
        net.advance(by: Self.hold)
        let sent = Self.queue(net, from: 1, to: 2)
        #expect(sent.map(\.kind) == [.reserve, .reserve])
        #expect(sent.count == 2 && sent[1].sequence == sent[0].sequence + 1)
        // Both reach node 2; its confirms come back (after their own hold if 2 → 1 is busy too).
        net.run()
        net.advance(by: Self.hold)
        // (`delivered` notices of earlier requests may ride along: they are held for company too.)
        #expect(Self.queue(net, from: 2, to: 1).map(\.kind).filter { $0 != .delivered } == [.confirm, .confirm])
        // A third reserve waits at node 1 when the confirms arrive: the commits leave after it.
        _ = try net.request(from: NodeID(1), to: NodeID(2), units: 1)
        #expect(net.engine(NodeID(1)).heldMessages(toward: NodeID(2)) == 1)
        let back = try #require(net.busyQueues.first { net.queues[$0].first?.message.from == NodeID(2) })
        while let m = net.queues[back].first?.message, m.kind == .delivered { net.deliver(queue: back) }
        net.deliver(queue: back)
        #expect(Self.queue(net, from: 1, to: 2).map(\.kind) == [.reserve, .commit])
        for _ in 0..<6 {
            net.run()
            net.advance(by: Self.hold)
        }
        net.run()
        #expect(net.sourceKeys[b] != nil && net.sourceKeys[b] == net.destinationKeys[b])
        #expect(net.engines.allSatisfy { e in e.neighbours.allSatisfy { e.heldMessages(toward: $0) == 0 } })
        #expect(net.checker.violations.isEmpty)
    }

    @Test("hold 0 sends every reservation message at once, however busy the link")
    func offSendsAtOnce() throws {
        let net = try Self.network(hold: 0)
        #expect(try Self.makeBusy(net) == nil)
        #expect(net.engines.allSatisfy { $0.counters.reservationMessagesHeld == 0 })
        #expect(net.sourceKeys.count == 80)
    }

    @Test("a busy link whose pool is at least 90 % free key sends at once: its key limits nothing")
    func abundantKeySendsAtOnce() throws {
        // 1,020 of 1,024 units: after 60 one-unit requests still above 921.
        let net = try Self.network(key: 1020)
        #expect(try Self.makeBusy(net, limit: 60) == nil)
        #expect(net.engines.allSatisfy { $0.counters.reservationMessagesHeld == 0 })
        #expect(net.sourceKeys.count == 60)
    }
}
