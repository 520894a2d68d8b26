import AKRPEngine
import AKRPSimulation
import AKRPWire
import Testing

/// The GF(2^64) multiplication of the second hash level, against values computed by an independent
/// implementation (Python: carry-less product reduced modulo x^64 + x^4 + x^3 + x + 1).
@Suite("GF(2^64)")
struct GF64Tests {
    @Test(arguments: [
        (0xe71b_9592_244e_ceca, 0x3fcb_4b70_f79a_7ffc, 0xd3dc_e895_616e_c886),
        (0x3bce_14ab_261d_b1d4, 0x2a43_8f2a_3172_f442, 0x1434_4941_c28d_b3cd),
        (0xff3f_3f8c_fe53_b312, 0xe427_f474_114d_9fce, 0x5a82_edc0_6758_707c),
        (0x15d2_5341_edc5_fe85, 0x23eb_7164_3ac5_c727, 0x649e_84e6_fa0f_1ed7),
        (0xf4a3_cc30_5280_0e04, 0x09c9_c31a_e2f9_3909, 0x06d4_13c8_9c2b_a1f3),
        (0x7440_6663_d3e1_ec74, 0x2cc9_d354_d76f_d970, 0x32bf_5ff3_5bfc_db7a),
        (0x8000_0000_0000_0000, 0x8000_0000_0000_0000, 0xc000_0000_0000_005a),
        (0xffff_ffff_ffff_ffff, 0xffff_ffff_ffff_ffff, 0x5555_5555_5555_5513),
    ] as [(UInt64, UInt64, UInt64)])
    func products(a: UInt64, b: UInt64, product: UInt64) {
        #expect(GF64.multiply(a, b) == product)
        #expect(GF64.multiply(b, a) == product)
    }

    @Test func fieldLaws() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let (a, b, c) = (rng.next(), rng.next(), rng.next())
            #expect(GF64.multiply(a, 1) == a && GF64.multiply(a, 0) == 0)
            #expect(GF64.multiply(a, b ^ c) == GF64.multiply(a, b) ^ GF64.multiply(a, c))
            #expect(GF64.multiply(GF64.multiply(a, b), c) == GF64.multiply(a, GF64.multiply(b, c)))
        }
    }

    /// The multiplication (Karatsuba over integer products with holes) against the schoolbook definition,
    /// one bit of `b` at a time, on random operands and on the sparse and dense ones where carries would
    /// show first.
    @Test func agreesWithSchoolbookProduct() {
        func schoolbook(_ a: UInt64, _ b: UInt64) -> UInt64 {
            var low: UInt64 = 0
            var high: UInt64 = 0
            for i in 0..<64 where (b >> UInt64(i)) & 1 == 1 {
                low ^= a << UInt64(i)
                if i > 0 { high ^= a >> UInt64(64 - i) }
            }
            // Reduce bit by bit from the top: x^(64+k) = x^k · (x^4 + x^3 + x + 1).
            for k in stride(from: 63, through: 0, by: -1) where (high >> UInt64(k)) & 1 == 1 {
                high ^= 1 << UInt64(k)
                for t in [0, 1, 3, 4] {
                    let e = k + t
                    if e < 64 { low ^= 1 << UInt64(e) } else { high ^= 1 << UInt64(e - 64) }
                }
            }
            return low
        }
        var rng = SplitMix64(seed: 11)
        var operands: [UInt64] = [0, 1, .max, 0x8000_0000_0000_0000, 0xffff_ffff, 0xffff_ffff_0000_0000]
        operands += (0..<64).map { 1 << UInt64($0) }
        operands += (0..<64).map { _ in rng.next() }
        for a in operands {
            for b in operands { #expect(GF64.multiply(a, b) == schoolbook(a, b), "\(a) · \(b)") }
        }
    }

    /// Necessary conditions of Rabin's irreducibility test for the modulus: x^(2^64) = x, x^(2^32) ≠ x.
    @Test func modulusBehavesIrreducible() {
        var y: UInt64 = 2
        for _ in 0..<32 { y = GF64.multiply(y, y) }
        #expect(y != 2)
        for _ in 0..<32 { y = GF64.multiply(y, y) }
        #expect(y == 2)
    }
}

/// Recycled-key frames (docs/WIRE.md §4.6) between two real engines: cost, forgeries, replays, stale keys.
@Suite("Recycled-key authentication")
struct RecycledKeyAuthenticationTests {
    /// Two engines on one link with `count` units of key delivered at both ends and the link up.
    static func link(units count: Int) throws -> ManualNetwork {
        var c = EngineConfiguration()
        c.poolCapacity = 1024
        c.linkStateInterval = 0
        c.authenticationReserve = 64
        let net = try ManualNetwork(topology: SmallNetwork.line(2), configuration: c)
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: count)
        net.run()
        return net
    }

    /// A frame from node 1 to node 2 sealed by `sealer`.
    static func frame(_ net: ManualNetwork, _ sealer: PoolKeySealer, serial: UInt32) throws -> [UInt8] {
        var m = Message(kind: .release, from: NodeID(1), to: NodeID(2))
        m.request = RequestID(source: NodeID(1), serial: serial)
        m.incarnation = 1
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = try buffer.withUnsafeMutableBytes { b in
            try sealer.seal(m, payload: UnsafeRawBufferPointer(start: nil, count: 0), engine: net.engine(NodeID(1)), toward: NodeID(2), into: b) { _ in }
        }
        return Array(buffer[0..<(try #require(length))])
    }

    static func open(_ net: ManualNetwork, _ verifier: PoolKeyVerifier, _ frame: [UInt8]) throws -> PoolKeyVerifier.Outcome {
        try frame.withUnsafeBytes { f in
            verifier.open(f, header: try PoolKeyedFrames.header(of: f), engine: net.engine(NodeID(2)), from: NodeID(1)) { _ in }
        }
    }

    @Test("64 bits of link key per frame, plus one hash key per lifetime")
    func cost() throws {
        let net = try Self.link(units: 512)
        let sealer = PoolKeySealer(hashKeyLifetime: 16)
        let verifier = PoolKeyVerifier()
        let before = net.engine(NodeID(2)).counters.authenticationUnitsReceived
        for serial in 1...64 {
            let f = try Self.frame(net, sealer, serial: UInt32(serial))
            guard case .accepted(let d) = try Self.open(net, verifier, f) else {
                Issue.record("frame \(serial) refused")
                return
            }
            #expect(d.message.request.serial == UInt32(serial))
        }
        // 64 frames: 16 pad units (4 pads each) and 4 hash keys (lifetime 16).
        #expect(sealer.unitsTaken == 20)
        #expect(net.engine(NodeID(2)).counters.authenticationUnitsReceived - before == 20)
    }

    @Test("the accounting (FrameKeyCost) is what a sealer takes")
    func accounting() throws {
        let net = try Self.link(units: 512)
        let sealer = PoolKeySealer()
        for serial in 1...50 { _ = try Self.frame(net, sealer, serial: UInt32(serial)) }
        // 50 frames: 13 pad units and one hash key.
        #expect(sealer.unitsTaken == 14)
        #expect(Int(sealer.unitsTaken) * 256 == FrameKeyCost.bits(frames: 50, unitBits: 256))
        #expect(FrameKeyCost.bits(frames: 50, unitBits: 256) <= FrameKeyCost.boundBits(frames: 50, directions: 1, unitBits: 256))
        // Amortised over a hash key's lifetime: 64 bits per frame plus 256 / 2^20.
        let lifetime = FrameKeyCost.hashKeyLifetime
        let perFrame = Double(FrameKeyCost.bits(frames: lifetime, unitBits: 256)) / Double(lifetime)
        #expect(perFrame > 64 && perFrame < 64.001)
    }

    @Test("a forged frame is refused and burns nothing; the genuine one still verifies")
    func forgery() throws {
        let net = try Self.link(units: 256)
        let sealer = PoolKeySealer()
        let verifier = PoolKeyVerifier()
        let genuine = try Self.frame(net, sealer, serial: 9)
        for position in [0, 12, 30, genuine.count - 16, genuine.count - 1] {
            var forged = genuine
            forged[position] ^= 0x01
            let before = net.engine(NodeID(2)).counters.authenticationUnitsReceived
            let outcome = try? Self.open(net, verifier, forged)
            if case .accepted = outcome { Issue.record("a frame changed at byte \(position) was accepted") }
            #expect(net.engine(NodeID(2)).counters.authenticationUnitsReceived == before)
        }
        guard case .accepted = try Self.open(net, verifier, genuine) else {
            Issue.record("the genuine frame was refused after the forgeries")
            return
        }
    }

    @Test("a replayed or reordered frame is refused")
    func replay() throws {
        let net = try Self.link(units: 256)
        let sealer = PoolKeySealer()
        let verifier = PoolKeyVerifier()
        let first = try Self.frame(net, sealer, serial: 1)
        let second = try Self.frame(net, sealer, serial: 2)
        guard case .accepted = try Self.open(net, verifier, second) else {
            Issue.record("second frame refused")
            return
        }
        guard case .refused(.replayed) = try Self.open(net, verifier, first) else {
            Issue.record("an older frame arriving late was not refused")
            return
        }
        guard case .refused(.replayed) = try Self.open(net, verifier, second) else {
            Issue.record("a replay was not refused")
            return
        }
    }

    @Test("a frame under a stale hash key is refused")
    func staleHashKey() throws {
        let net = try Self.link(units: 256)
        let sealer = PoolKeySealer(hashKeyLifetime: 1)  // a new hash key for every frame
        let verifier = PoolKeyVerifier()
        let a = try Self.frame(net, sealer, serial: 1)
        let oldKey = try #require(sealer.hashKeyIndex)
        let b = try Self.frame(net, sealer, serial: 2)
        #expect(try #require(sealer.hashKeyIndex) > oldKey)
        guard case .accepted = try Self.open(net, verifier, a), case .accepted = try Self.open(net, verifier, b) else {
            Issue.record("genuine frames refused")
            return
        }
        // A frame that names the old hash key with a fresh sequence number: refused before any tag check.
        var stale = try Self.frame(net, sealer, serial: 3)
        let trailer = stale.count - 16
        withUnsafeBytes(of: oldKey.bigEndian) { for i in 0..<8 { stale[trailer + i] = $0[i] } }
        guard case .refused(.staleHashKey(let named)) = try Self.open(net, verifier, stale) else {
            Issue.record("a frame under a stale hash key was not refused as such")
            return
        }
        #expect(named == oldKey)
    }

    @Test("the forgery bound per frame is at most 2^-60 for the largest frame")
    func bound() {
        // 2^-64 for the GF(2^64) level + 8⌈L/16⌉·2^-106 for a Poly1305 collision (docs/WIRE.md §4.6).
        let largest = Double(WireFormat.defaultMaximumFrameSize)
        let epsilon = 0x1p-64 + 8 * (largest / 16).rounded(.up) * 0x1p-106
        #expect(epsilon <= 0x1p-60)
        #expect(epsilon > 0x1p-64)
    }
}

/// Bundles (docs/WIRE.md §4.7): several messages to one neighbour in one authenticated frame.
@Suite("Message bundles")
struct MessageBundleTests {
    static func messages() -> [(Message, [UInt8])] {
        var reserve = Message(kind: .reserve, from: NodeID(1), to: NodeID(2))
        reserve.request = RequestID(source: NodeID(1), serial: 7)
        reserve.size = 2
        reserve.time = 123_456
        reserve.index = 99
        reserve.path = try! Path([NodeID(1), NodeID(2), NodeID(3)])
        try! reserve.units.append(run: UnitRun(start: 40, count: 2))
        var commit = Message(kind: .commit, from: NodeID(1), to: NodeID(2))
        commit.request = RequestID(source: NodeID(1), serial: 6)
        commit.time = 9
        try! commit.units.append(run: UnitRun(start: 8, count: 1))
        commit.payloadLength = 32
        var release = Message(kind: .release, from: NodeID(1), to: NodeID(2))
        release.request = RequestID(source: NodeID(1), serial: 5)
        return [(reserve, []), (commit, Array(0..<32)), (release, [])]
    }

    /// A sealed bundle of `items` from node 1 to node 2 of `net`.
    static func seal(_ net: ManualNetwork, _ sealer: PoolKeySealer, _ items: [(Message, [UInt8])]) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let length = try buffer.withUnsafeMutableBytes { b in
            try sealer.sealFrame(engine: net.engine(NodeID(1)), toward: NodeID(2), into: b, took: { _ in }) {
                sequence throws(WireError) in
                var writer = MessageBundle.Writer(into: b, sequence: sequence, sender: NodeID(1), receiver: NodeID(2))
                for (m, p) in items {
                    let pointer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(p.count, 1), alignment: 8)
                    defer { pointer.deallocate() }
                    pointer.copyBytes(from: p)
                    try writer.append(m, payload: UnsafeRawBufferPointer(rebasing: pointer[0..<p.count]))
                }
                return try writer.finish()
            }
        }
        return Array(buffer[0..<(try #require(length))])
    }

    @Test("a bundle carries its messages in order, with payloads, under one pad")
    func roundTrip() throws {
        let net = try RecycledKeyAuthenticationTests.link(units: 256)
        let sealer = PoolKeySealer()
        let verifier = PoolKeyVerifier()
        let items = Self.messages()
        let frame = try Self.seal(net, sealer, items)
        #expect(sealer.unitsTaken == 2)  // one hash key, one pad unit: one pad for three messages
        let header = try frame.withUnsafeBytes { try PoolKeyedFrames.header(of: $0) }
        #expect(header.frameClass == .bundle)
        let outcome = frame.withUnsafeBytes { f in
            verifier.open(f, header: header, engine: net.engine(NodeID(2)), from: NodeID(1)) { _ in }
        }
        guard case .acceptedBundle = outcome else {
            Issue.record("bundle not accepted: \(outcome)")
            return
        }
        var decoded: [(Message, [UInt8])] = []
        var payload = [UInt8](repeating: 0, count: 4096)
        let count = try frame.withUnsafeBytes { f in
            try payload.withUnsafeMutableBytes { p in
                try MessageBundle.decode(f, header: header, payloadInto: p) { d in
                    decoded.append((d.message, Array(p[0..<Int(d.message.payloadLength)])))
                }
            }
        }
        #expect(count == 3 && decoded.count == 3)
        for (got, sent) in zip(decoded, items) {
            var expected = sent.0
            expected.sequence = header.sequence
            #expect(got.0.kind == expected.kind && got.0.request == expected.request && got.0.units == expected.units)
            #expect(got.0.path == expected.path && got.0.time == expected.time && got.0.index == expected.index)
            #expect(got.1 == sent.1)
        }
    }

    @Test("a changed bundle is refused; a bundle whose inner frames disagree with it is refused whole")
    func hostile() throws {
        let net = try RecycledKeyAuthenticationTests.link(units: 256)
        let sealer = PoolKeySealer()
        let verifier = PoolKeyVerifier()
        var frame = try Self.seal(net, sealer, Self.messages())
        frame[60] ^= 0x04
        let header = try frame.withUnsafeBytes { try PoolKeyedFrames.header(of: $0) }
        let outcome = frame.withUnsafeBytes { f in
            verifier.open(f, header: header, engine: net.engine(NodeID(2)), from: NodeID(1)) { _ in }
        }
        guard case .refused(.authenticationFailed) = outcome else {
            Issue.record("a changed bundle was not refused: \(outcome)")
            return
        }
        // Decoding is checked on its own too (an authentic but badly built bundle): an inner frame naming
        // another sender, a non-zero inner tag space, a truncated inner frame — nothing is delivered.
        let good = try Self.seal(net, sealer, Self.messages())
        let innerSender = WireFormat.headerLength + 20  // first inner header's sender field
        let innerTag = WireFormat.headerLength + MessageBundle.length(of: Self.messages()[0].0) - 1
        for (position, value) in [(innerSender + 3, UInt8(9)), (innerTag, UInt8(1))] {
            var bad = good
            bad[position] = value
            var delivered = 0
            #expect(throws: WireError.self) {
                try bad.withUnsafeBytes { f in
                    try MessageBundle.decode(f, header: try PoolKeyedFrames.header(of: f), payloadInto: nil) { _ in delivered += 1 }
                }
            }
            #expect(delivered == 0)
        }
    }
}
