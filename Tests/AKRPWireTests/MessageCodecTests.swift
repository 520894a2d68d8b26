import AKRPEngine
import AKRPWire
import Testing

struct MessageCodecTests {
    /// Encode → decode gives the message back, for many random messages of every kind, and re-encoding
    /// the decoded message gives the same bytes (one encoding per message).
    @Test(arguments: MessageKind.allCases)
    func roundTrip(_ kind: MessageKind) throws {
        var g = SplitMix64(seed: UInt64(kind.rawValue) &* 1_000_003)
        for _ in 0..<300 {
            let (m, payload) = randomMessage(kind, using: &g)
            let frame = try encodeUnsealed(m, payload: payload)
            #expect(frame.count == MessageCodec.frameLength(of: m))
            let (decoded, decodedPayload) = try decode(frame)
            #expect(decoded.message == m)
            #expect(decodedPayload == payload)
            #expect(decoded.frameLength == frame.count)
            #expect(try encodeUnsealed(decoded.message, payload: decodedPayload) == frame)
        }
    }

    /// Every strict prefix of a valid frame is a typed error, never a trap or a success.
    @Test(arguments: MessageKind.allCases)
    func everyTruncationIsATypedError(_ kind: MessageKind) throws {
        var g = SplitMix64(seed: 99 &+ UInt64(kind.rawValue))
        let (m, payload) = randomMessage(kind, using: &g)
        let frame = try encodeUnsealed(m, payload: payload)
        for length in 0..<frame.count {
            #expect(throws: WireError.self) { try decode(Array(frame[0..<length])) }
        }
        #expect(throws: WireError.trailingBytes(1)) { try decode(frame + [0]) }
    }

    /// Every single-bit flip of a sealed frame is refused with a typed error (most often the MAC).
    @Test(arguments: MessageKind.allCases)
    func everyBitFlipIsRefused(_ kind: MessageKind) throws {
        var g = SplitMix64(seed: 7 &+ UInt64(kind.rawValue))
        var (m, payload) = randomMessage(kind, from: NodeID(3), to: NodeID(4), using: &g)
        m.sequence = 1
        var sealer = FrameSealer(from: NodeID(3), to: NodeID(4))
        var sendKeys = CountingKeySupply(seed: 5)
        let frame = try seal(m, payload: payload, sealer: &sealer, keys: &sendKeys)
        var verifier = FrameVerifier(from: NodeID(3), to: NodeID(4))
        var receiveKeys = CountingKeySupply(seed: 5)
        var macFailures = 0
        for bit in 0..<(frame.count * 8) {
            var bad = frame
            bad[bit / 8] ^= 1 << UInt8(bit % 8)
            do {
                _ = try open(bad, verifier: &verifier, keys: &receiveKeys)
                Issue.record("bit \(bit) flipped and the frame was accepted")
            } catch {
                if error == .authenticationFailed { macFailures += 1 }
            }
        }
        #expect(macFailures > frame.count * 4)
        // Failures left the verifier in step: the genuine frame still verifies.
        let (decoded, decodedPayload) = try open(frame, verifier: &verifier, keys: &receiveKeys)
        #expect(decoded.message == m)
        #expect(decodedPayload == payload)
    }

    @Test func headerErrors() throws {
        var m = Message(kind: .hello, from: NodeID(1), to: NodeID(2))
        m.incarnation = 5
        let frame = try encodeUnsealed(m)
        func mutated(_ i: Int, _ v: UInt8) -> [UInt8] { var f = frame; f[i] = v; return f }
        #expect(throws: WireError.badMagic) { try decode(mutated(0, 0x42)) }
        #expect(throws: WireError.unsupportedVersion(2)) { try decode(mutated(2, 2)) }
        #expect(throws: WireError.unknownType(0)) { try decode(mutated(3, 0)) }
        #expect(throws: WireError.unknownType(13)) { try decode(mutated(3, 13)) }
        // A control type with a neighbour's flags: the flags do not match the class.
        #expect(throws: WireError.invalidFlags(1)) { try decode(mutated(3, 0x40)) }
        #expect(throws: WireError.invalidFlags(0)) { try decode(mutated(4, 0)) }
        #expect(throws: WireError.invalidFlags(3)) { try decode(mutated(4, 3)) }
        #expect(throws: WireError.invalidField(.reserved)) { try decode(mutated(6, 1)) }
        #expect(throws: WireError.frameTooLarge(0xff00_0000 + 28 + 24 + 16)) { try decode(mutated(8, 0xff)) }
        #expect(throws: WireError.invalidField(.sender)) { try decode(mutated(23, 0)) }
        #expect(throws: WireError.invalidField(.receiver)) { try decode(mutated(27, 1)) }
        #expect(throws: WireError.truncated(needed: 28)) { try decode([]) }
    }

    @Test func bodyErrors() throws {
        var g = SplitMix64(seed: 3)
        var (reserve, _) = randomMessage(.reserve, using: &g)
        var frame = try encodeUnsealed(reserve)
        // Body length one short: the tag position moves, the body ends inside the units.
        frame[11] -= 1
        #expect(throws: WireError.self) { try decode(frame) }

        reserve.hop = UInt8(reserve.path.hops)
        #expect(throws: WireError.invalidField(.hop)) { try encodeUnsealed(reserve) }

        var fail = Message(kind: .fail, from: NodeID(1), to: NodeID(2))
        fail.request = RequestID(source: NodeID(1), serial: 1)
        fail.reason = 200
        #expect(throws: WireError.invalidField(.reason)) { try encodeUnsealed(fail) }
        fail.reason = FailReason.noRoute.rawValue
        var bytes = try encodeUnsealed(fail)
        bytes[28 + 16 + 10] = 200  // the reason byte
        #expect(throws: WireError.invalidField(.reason)) { try decode(bytes) }

        var state = Message(kind: .linkState, from: NodeID(1), to: NodeID(2))
        state.subject = LinkID(NodeID(4), NodeID(3))
        state.request = RequestID(source: NodeID(5), serial: 0)
        #expect(throws: WireError.invalidField(.request)) { try encodeUnsealed(state) }  // origin not an end
        state.request = RequestID(source: NodeID(4), serial: 0)
        var stateFrame = try encodeUnsealed(state)
        // Swap the ends on the wire: low must come first.
        stateFrame.swapAt(28 + 16 + 3, 28 + 16 + 7)
        #expect(throws: WireError.invalidField(.subject)) { try decode(stateFrame) }
    }

    /// Unit runs that would merge on decode (adjacent) are not canonical and are refused.
    @Test func adjacentRunsAreRefused() throws {
        var m = Message(kind: .confirm, from: NodeID(1), to: NodeID(2))
        m.request = RequestID(source: NodeID(1), serial: 1)
        try m.units.append(run: UnitRun(start: 10, count: 2))
        try m.units.append(run: UnitRun(start: 20, count: 2))
        var frame = try encodeUnsealed(m)
        // Second run start 20 → 12: adjacent to the first (after time, index, run count, first run).
        let secondStart = 28 + 16 + 10 + 8 + 8 + 1 + 12 + 7
        #expect(frame[secondStart] == 20)
        frame[secondStart] = 12
        #expect(throws: WireError.invalidField(.units)) { try decode(frame) }
        frame[secondStart] = 11  // overlapping
        #expect(throws: WireError.invalidUnits(.unordered)) { try decode(frame) }
    }

    @Test func pathErrors() throws {
        var g = SplitMix64(seed: 11)
        var (m, _) = randomMessage(.reserve, using: &g)
        m.path = try Path([NodeID(1), NodeID(2), NodeID(3)])
        m.hop = 0
        var frame = try encodeUnsealed(m)
        let pathStart = 28 + 16 + 10 + 2 + 8 + 8  // after size, time, index
        #expect(frame[pathStart] == 3)
        var loop = frame
        loop[pathStart + 12] = 1  // third node = first node
        #expect(throws: WireError.invalidPath(.loop)) { try decode(loop) }
        var zero = frame
        zero[pathStart + 8] = 0
        #expect(throws: WireError.invalidPath(.invalidNode)) { try decode(zero) }
        frame[pathStart] = 200
        #expect(throws: WireError.invalidPath(.tooLong)) { try decode(frame) }
    }

    @Test func payloadMustMatch() throws {
        var m = Message(kind: .share, from: NodeID(1), to: NodeID(2))
        m.request = RequestID(source: NodeID(1), serial: 1)
        m.path = try Path([NodeID(1), NodeID(2), NodeID(3)])
        m.size = 1
        m.hop = 1
        m.payloadLength = 4
        #expect(throws: WireError.invalidField(.payloadLength)) { try encodeUnsealed(m, payload: [1, 2, 3]) }
        let frame = try encodeUnsealed(m, payload: [1, 2, 3, 4])
        var small = [UInt8](repeating: 0, count: 3)
        #expect(throws: WireError.bufferTooSmall(needed: 4)) {
            try frame.withUnsafeBytes { f in
                try small.withUnsafeMutableBytes { p in _ = try MessageCodec.decode(f, payloadInto: p) }
            }
        }
        var release = Message(kind: .release, from: NodeID(1), to: NodeID(2))
        release.request = m.request
        #expect(throws: WireError.invalidField(.payloadLength)) { try encodeUnsealed(release, payload: [1]) }
    }

    @Test func encodeIntoSmallBufferIsATypedError() throws {
        let m = Message(kind: .hello, from: NodeID(1), to: NodeID(2))
        var out = [UInt8](repeating: 0, count: 67)
        #expect(throws: WireError.bufferTooSmall(needed: 68)) {
            try out.withUnsafeMutableBytes { b in _ = try MessageCodec.encodeUnsealed(m, payload: UnsafeRawBufferPointer(start: nil, count: 0), into: b) }
        }
    }

    /// Random byte strings, and valid frames with random bytes overwritten, never trap.
    @Test func randomInputNeverTraps() throws {
        var g = SplitMix64(seed: 2024)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...200, using: &g)
            var input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &g) }
            if length >= 4 {
                input[0] = 0x41
                input[1] = 0x4B
                input[2] = 1
            }
            _ = try? decode(input)
            _ = try? decodeControl(input)
        }
        for kind in MessageKind.allCases {
            for _ in 0..<300 {
                let (m, payload) = randomMessage(kind, using: &g)
                var frame = try encodeUnsealed(m, payload: payload)
                for _ in 0..<Int.random(in: 1...4, using: &g) {
                    frame[Int.random(in: 0..<frame.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
                }
                _ = try? decode(frame)
            }
        }
    }
}
