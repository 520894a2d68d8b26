import AKRPEngine
import AKRPSimulation
import AKRPWire
import Testing

/// Frames authenticated with key the engines take from their link pools: every message of real
/// engine scenarios travels sealed under the sender's recycled hash key and one 8-byte pad of its own
/// key units, and is verified and accounted at the receiver. The pools pay for authentication.
@Suite("Pool-keyed authentication")
struct PoolKeyedAuthenticationTests {
    static func line(_ n: Int) throws -> Topology { SmallNetwork.line(n) }

    /// One sealer per sending end and one verifier per receiving end of every directed link.
    final class Keying {
        var sealers: [UInt64: PoolKeySealer] = [:]
        var verifiers: [UInt64: PoolKeyVerifier] = [:]
        let lifetime: Int
        init(lifetime: Int = PoolKeyedFrames.defaultHashKeyLifetime) { self.lifetime = lifetime }
        /// Directed links are keyed (from << 32 | to).
        func sealer(_ from: NodeID, _ to: NodeID) -> PoolKeySealer {
            let k = UInt64(from.rawValue) << 32 | UInt64(to.rawValue)
            if let s = sealers[k] { return s }
            let s = PoolKeySealer(hashKeyLifetime: lifetime)
            sealers[k] = s
            return s
        }
        func verifier(_ from: NodeID, _ to: NodeID) -> PoolKeyVerifier {
            let k = UInt64(from.rawValue) << 32 | UInt64(to.rawValue)
            if let v = verifiers[k] { return v }
            let v = PoolKeyVerifier()
            verifiers[k] = v
            return v
        }
    }

    /// Carries every queued message sealed with pool key; returns how many frames went over the wire.
    /// A message whose sender has no free own unit yet stays queued (it waits for key). Before each genuine
    /// frame a forged copy (one bit flipped) must be refused and burn nothing; after it, a replay is refused.
    @discardableResult
    static func runSealed(_ net: ManualNetwork, keying: Keying, forged: inout Int) throws -> Int {
        var frames = 0
        var progress = true
        var frame = [UInt8](repeating: 0, count: 4096)
        while progress {
            progress = false
            for q in net.busyQueues {
                guard let flight = net.queues[q].first else { continue }
                let m = flight.message
                let sender = net.engine(m.from)
                let receiver = net.engine(m.to)
                let sealer = keying.sealer(m.from, m.to)
                let verifier = keying.verifier(m.from, m.to)
                let length = try flight.payload.withUnsafeBytes { p in
                    try frame.withUnsafeMutableBytes { f in
                        // Every unit taken to key frames: its stream bytes must appear in no delivered key.
                        try sealer.seal(m, payload: p, engine: sender, toward: m.to, into: f) { unit in
                            net.checker.observeAuthenticationUnit(link: LinkID(m.from, m.to), index: unit, time: net.now)
                        }
                    }
                }
                guard let length else { continue }
                net.drop(queue: q)
                frames += 1
                progress = true
                let unitsBefore = receiver.counters.authenticationUnitsReceived
                var bad = Array(frame[0..<length])
                bad[length / 2] ^= 0x10
                let badOutcome = try bad.withUnsafeBytes { b in
                    verifier.open(b, header: try PoolKeyedFrames.header(of: b), engine: receiver, from: m.from) { _ in }
                }
                if case .refused = badOutcome { forged += 1 } else { Issue.record("a forged frame was not refused: \(badOutcome)") }
                #expect(receiver.counters.authenticationUnitsReceived == unitsBefore, "a forged frame burned key")
                let good = Array(frame[0..<length])
                var payload = [UInt8](repeating: 0, count: 4096)
                let outcome = try good.withUnsafeBytes { g in
                    try payload.withUnsafeMutableBytes { p in
                        verifier.open(g, header: try PoolKeyedFrames.header(of: g), engine: receiver, from: m.from, payloadInto: p) { _ in }
                    }
                }
                guard case .accepted(let decoded) = outcome else {
                    Issue.record("a genuine frame was not accepted: \(outcome)")
                    continue
                }
                let replay = try good.withUnsafeBytes { g in
                    verifier.open(g, header: try PoolKeyedFrames.header(of: g), engine: receiver, from: m.from) { _ in }
                }
                guard case .refused(.replayed) = replay else {
                    Issue.record("a replayed frame was not refused as a replay: \(replay)")
                    continue
                }
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
        let keying = Keying()
        let setup = try Self.runSealed(net, keying: keying, forged: &forged)
        #expect(net.engines.allSatisfy { e in e.neighbours.allSatisfy { e.isLinkUp(toward: $0) } })
        let id = try net.request(from: NodeID(1), to: NodeID(5), units: 4)
        let frames = try Self.runSealed(net, keying: keying, forged: &forged)
        #expect(frames > 0)
        let s = try #require(net.sourceKeys[id])
        #expect(s == net.destinationKeys[id])
        #expect(net.checker.violations.isEmpty)
        let sent = net.engines.reduce(0) { $0 + $1.counters.authenticationUnitsSent }
        let received = net.engines.reduce(0) { $0 + $1.counters.authenticationUnitsReceived }
        #expect(sent == received)
        #expect(sent > 0 && forged > 0)
        // Four frames per pad unit plus one hash key per direction: fewer units than frames.
        let total = setup + frames
        #expect(Int(sent) < total, "\(sent) units for \(total) frames")
        let taken = keying.sealers.values.reduce(0) { $0 + $1.unitsTaken }
        #expect(taken == sent)
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
        let keying = Keying()
        try Self.runSealed(net, keying: keying, forged: &forged)
        // Node 1 owns units 0…3 of the first 8 (blocks of 4); its hello and resync used two. Units above the
        // last one they used are reserved for authentication; a unit below it can never key a frame
        // (frames are keyed in increasing order), so requests may take it.
        let pointer = try #require(net.engine(NodeID(1)).diagnostics(toward: NodeID(2), now: 0)).authenticationSent
        #expect(pointer >= 1 && pointer < 3)
        let id = try net.request(from: NodeID(1), to: NodeID(2), units: 3)
        try Self.runSealed(net, keying: keying, forged: &forged)
        // The request had to reach into future key (its own delivered units are reserved); it arrives.
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 8)
        try Self.runSealed(net, keying: keying, forged: &forged)
        let owned = net.events.filter { $0.event.kind == .unitsConsumed && $0.event.request == id }
            .flatMap { e in (0..<Int(e.event.units.runCount)).flatMap { Array(e.event.units[$0].start..<e.event.units[$0].end) } }
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(owned.count == 6)  // 3 units, consumed at both ends
        #expect(!owned.contains { $0 > pointer && $0 < 4 }, "a request took a unit authentication can still use")
    }
}
