import AKRPEngine
import AKRPSimulation
import AKRPWire
import Testing

/// Frames authenticated with key the engines take from their link pools: every message of real
/// engine scenarios travels sealed with one unit of the sender's own key and is verified and accounted
/// at the receiver. The pools pay for authentication.
@Suite("Pool-keyed authentication")
struct PoolKeyedAuthenticationTests {
    static func line(_ n: Int) throws -> Topology { SmallNetwork.line(n) }

    /// Carries every queued message sealed with pool key; returns how many frames went over the wire.
    /// A message whose sender has no free own unit yet stays queued (it waits for key).
    @discardableResult
    static func runSealed(_ net: ManualNetwork, forged: inout Int) throws -> Int {
        var frames = 0
        var progress = true
        var key = [UInt8](repeating: 0, count: 32)
        var frame = [UInt8](repeating: 0, count: 4096)
        while progress {
            progress = false
            for q in net.busyQueues {
                guard let flight = net.queues[q].first else { continue }
                var m = flight.message
                let sender = net.engine(m.from)
                let receiver = net.engine(m.to)
                let index = key.withUnsafeMutableBytes { sender.takeAuthenticationKey(toward: m.to, into: $0) }
                guard let index else { continue }
                // The checker recomputes the unit from the link's stream: it must be that unit's bytes,
                // and appear in no delivered key.
                net.checker.observeAuthenticationKey(key, link: LinkID(m.from, m.to), index: index, time: net.now)
                m.sequence = index
                let length = try flight.payload.withUnsafeBytes { p in
                    try key.withUnsafeBytes { k in
                        try frame.withUnsafeMutableBytes { f in try PoolKeyedFrames.seal(m, payload: p, key: k, into: f) }
                    }
                }
                net.drop(queue: q)
                frames += 1
                progress = true
                // A forged copy (one bit flipped) arrives first: it must be refused and burn nothing.
                var bad = Array(frame[0..<length])
                bad[length / 2] ^= 0x10
                let header = try bad.withUnsafeBytes { try PoolKeyedFrames.header(of: $0) }
                var receiverKey = [UInt8](repeating: 0, count: 32)
                let known = receiverKey.withUnsafeMutableBytes {
                    receiver.authenticationKey(from: header.sender, index: header.sequence, into: $0)
                }
                #expect(known, "receiver lacks the key unit \(header.sequence)")
                if known {
                    #expect(throws: (any Error).self) {
                        try bad.withUnsafeBytes { b in
                            try receiverKey.withUnsafeBytes { k in try PoolKeyedFrames.open(b, header: header, key: k) }
                        }
                    }
                    forged += 1
                }
                // The genuine frame.
                let good = Array(frame[0..<length])
                var payload = [UInt8](repeating: 0, count: 4096)
                let decoded = try good.withUnsafeBytes { g in
                    try receiverKey.withUnsafeBytes { k in
                        try payload.withUnsafeMutableBytes { p in
                            try PoolKeyedFrames.open(g, header: header, key: k, payloadInto: p)
                        }
                    }
                }
                receiver.consumeAuthenticationKey(from: header.sender, index: header.sequence)
                // A replay of the same frame finds its key gone.
                let again = receiverKey.withUnsafeMutableBytes {
                    receiver.authenticationKey(from: header.sender, index: header.sequence, into: $0)
                }
                #expect(!again)
                net.inject(decoded.message, payload: Array(payload[0..<Int(decoded.message.payloadLength)]))
            }
        }
        return frames
    }

    @Test("a 4-hop request: every frame keyed by pool units, keys agree, pools account for it")
    func fourHops() throws {
        var c = EngineConfiguration()
        c.poolCapacity = 256
        c.linkStateInterval = 0
        c.authenticationReserve = 8
        let net = try ManualNetwork(topology: try Self.line(5), configuration: c)
        // Key first: the hellos themselves are authenticated with pool key.
        for l in net.topology.links { net.supplyKey(link: l.id, count: 64) }
        var forged = 0
        try Self.runSealed(net, forged: &forged)
        #expect(net.engines.allSatisfy { e in e.neighbours.allSatisfy { e.isLinkUp(toward: $0) } })
        let id = try net.request(from: NodeID(1), to: NodeID(5), units: 4)
        let frames = try Self.runSealed(net, forged: &forged)
        #expect(frames > 0)
        let s = try #require(net.sourceKeys[id])
        #expect(s == net.destinationKeys[id])
        #expect(net.checker.violations.isEmpty)
        let sent = net.engines.reduce(0) { $0 + $1.counters.authenticationUnitsSent }
        let received = net.engines.reduce(0) { $0 + $1.counters.authenticationUnitsReceived }
        #expect(sent == received)
        #expect(sent > 0 && forged > 0)
        #expect(net.checker.authenticationKeysChecked == Int(sent))
        // Authentication never used a unit twice, nor one of a request: the pools hold nothing.
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 })
    }

    @Test("requests never take the authentication reserve")
    func reserve() throws {
        var c = EngineConfiguration()
        c.poolCapacity = 64
        c.ownershipBlock = 4
        c.linkStateInterval = 0
        c.authenticationReserve = 4
        c.reroutes = 0
        let net = try ManualNetwork(topology: try Self.line(2), configuration: c)
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 8)
        var forged = 0
        try Self.runSealed(net, forged: &forged)
        // Node 1 owns units 0…3 of the first 8 (blocks of 4); its hello and resync used two. Units above the
        // last one they used are reserved for authentication; a unit below it can never key a frame
        // (frames are keyed in increasing order), so requests may take it.
        let pointer = try #require(net.engine(NodeID(1)).diagnostics(toward: NodeID(2), now: 0)).authenticationSent
        #expect(pointer >= 1 && pointer < 3)
        let id = try net.request(from: NodeID(1), to: NodeID(2), units: 3)
        try Self.runSealed(net, forged: &forged)
        // The request had to reach into future key (its own delivered units are reserved); it arrives.
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 8)
        try Self.runSealed(net, forged: &forged)
        let owned = net.events.filter { $0.event.kind == .unitsConsumed && $0.event.request == id }
            .flatMap { e in (0..<Int(e.event.units.runCount)).flatMap { Array(e.event.units[$0].start..<e.event.units[$0].end) } }
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(owned.count == 6)  // 3 units, consumed at both ends
        #expect(!owned.contains { $0 > pointer && $0 < 4 }, "a request took a unit authentication can still use")
    }
}
