import AKRPEngine
import AKRPWire
import Testing

struct AuthenticationTests {
    static let a = NodeID(10)
    static let b = NodeID(20)

    func message(_ sequence: UInt64, serial: UInt32 = 1) -> Message {
        var m = Message(kind: .release, from: Self.a, to: Self.b)
        m.sequence = sequence
        m.request = RequestID(source: Self.a, serial: serial)
        m.hop = 2
        return m
    }

    @Test func sealThenOpen() throws {
        var sealer = FrameSealer(from: Self.a, to: Self.b)
        var verifier = FrameVerifier(from: Self.a, to: Self.b)
        var send = CountingKeySupply(seed: 1)
        var receive = CountingKeySupply(seed: 1)
        for s in UInt64(1)...50 {
            let frame = try seal(message(s, serial: UInt32(s)), sealer: &sealer, keys: &send)
            let (decoded, _) = try open(frame, verifier: &verifier, keys: &receive)
            #expect(decoded.message == message(s, serial: UInt32(s)))
        }
        #expect(sealer.nextSequence == 51)
        #expect(verifier.nextSequence == 51)
        #expect(sealer.keyBytesDrawn == AuthenticationCost.keyBytes(forFrames: 50))
        #expect(verifier.keyBytesDrawn == sealer.keyBytesDrawn)
        #expect(send.position == sealer.keyBytesDrawn)
        #expect(sealer.keyBytesDrawn == 50 * 16 + 16)
    }

    @Test func differentKeyFails() throws {
        var sealer = FrameSealer(from: Self.a, to: Self.b)
        var verifier = FrameVerifier(from: Self.a, to: Self.b)
        var send = CountingKeySupply(seed: 1)
        var receive = CountingKeySupply(seed: 2)
        let frame = try seal(message(1), sealer: &sealer, keys: &send)
        #expect(throws: WireError.authenticationFailed) { try open(frame, verifier: &verifier, keys: &receive) }
        #expect(verifier.failures == 1)
    }

    @Test func replayAndReorderAreRefused() throws {
        var sealer = FrameSealer(from: Self.a, to: Self.b)
        var verifier = FrameVerifier(from: Self.a, to: Self.b)
        var send = CountingKeySupply()
        var receive = CountingKeySupply()
        let f1 = try seal(message(1), sealer: &sealer, keys: &send)
        let f2 = try seal(message(2), sealer: &sealer, keys: &send)
        let f3 = try seal(message(3), sealer: &sealer, keys: &send)
        _ = try open(f1, verifier: &verifier, keys: &receive)
        #expect(throws: WireError.replayed(sequence: 1)) { try open(f1, verifier: &verifier, keys: &receive) }
        _ = try open(f3, verifier: &verifier, keys: &receive)  // f2 lost: its pad is burned
        #expect(throws: WireError.replayed(sequence: 2)) { try open(f2, verifier: &verifier, keys: &receive) }
        #expect(throws: WireError.replayed(sequence: 3)) { try open(f3, verifier: &verifier, keys: &receive) }
        #expect(verifier.keyBytesDrawn == sealer.keyBytesDrawn)
        // The sealer refuses to go backwards.
        #expect(throws: WireError.replayed(sequence: 2)) { try seal(message(2), sealer: &sealer, keys: &send) }
    }

    @Test func gapsWithinTheWindowStayInStep() throws {
        var sealer = FrameSealer(from: Self.a, to: Self.b, firstSequence: 100)
        var verifier = FrameVerifier(from: Self.a, to: Self.b, firstSequence: 100)
        var send = CountingKeySupply(seed: 9)
        var receive = CountingKeySupply(seed: 9)
        // The sender skips numbers (burning pads); the receiver burns the same pads.
        for s: UInt64 in [100, 103, 104, 111, 112] {
            let frame = try seal(message(s), sealer: &sealer, keys: &send)
            _ = try open(frame, verifier: &verifier, keys: &receive)
        }
        #expect(send.position == receive.position)
        #expect(throws: WireError.sequenceGapTooLarge(sequence: 121)) {
            try seal(message(113 + UInt64(AuthenticationPolicy.verificationWindow)), sealer: &sealer, keys: &send)
        }
    }

    @Test func forgedFrameAheadDoesNotDisturbTheGenuineOne() throws {
        var sealer = FrameSealer(from: Self.a, to: Self.b)
        var verifier = FrameVerifier(from: Self.a, to: Self.b)
        var send = CountingKeySupply(seed: 4)
        var receive = CountingKeySupply(seed: 4)
        let genuine = try seal(message(1), sealer: &sealer, keys: &send)
        var forged = genuine
        forged[19] = 5  // sequence 5, same tag
        #expect(throws: WireError.authenticationFailed) { try open(forged, verifier: &verifier, keys: &receive) }
        #expect(verifier.nextSequence == 1)
        _ = try open(genuine, verifier: &verifier, keys: &receive)
        // Keys drawn ahead for the forgery are reused, not drawn twice.
        for s in UInt64(2)...6 {
            _ = try open(try seal(message(s), sealer: &sealer, keys: &send), verifier: &verifier, keys: &receive)
        }
        #expect(send.position == receive.position)
    }

    @Test func hashKeyRenewalFollowsThePolicy() throws {
        let policy = AuthenticationPolicy(hashKeyLifetime: 4, maximumFailures: 10)
        var sealer = FrameSealer(from: Self.a, to: Self.b, policy: policy)
        var verifier = FrameVerifier(from: Self.a, to: Self.b, policy: policy)
        var send = CountingKeySupply()
        var receive = CountingKeySupply()
        for s in UInt64(1)...9 {
            _ = try open(try seal(message(s), sealer: &sealer, keys: &send), verifier: &verifier, keys: &receive)
            #expect(sealer.keyBytesDrawn == AuthenticationCost.keyBytes(forFrames: s, policy: policy))
        }
        // 9 frames: 9 pads and 3 hash keys.
        #expect(sealer.keyBytesDrawn == 9 * 16 + 3 * 16)
        #expect(AuthenticationCost.averageKeyBytesPerFrame(policy: policy) == 20)
    }

    @Test func locksAfterTooManyFailures() throws {
        let policy = AuthenticationPolicy(hashKeyLifetime: 1 << 16, maximumFailures: 3)
        var sealer = FrameSealer(from: Self.a, to: Self.b, policy: policy)
        var verifier = FrameVerifier(from: Self.a, to: Self.b, policy: policy)
        var send = CountingKeySupply()
        var receive = CountingKeySupply()
        let genuine = try seal(message(1), sealer: &sealer, keys: &send)
        var bad = genuine
        bad[bad.count - 1] ^= 1
        for _ in 0..<3 {
            #expect(throws: WireError.authenticationFailed) { try open(bad, verifier: &verifier, keys: &receive) }
        }
        let locked = verifier.isLocked
        #expect(locked)
        #expect(throws: WireError.authenticationLocked) { try open(genuine, verifier: &verifier, keys: &receive) }
    }

    @Test func exhaustedSupplyIsATypedErrorAndLeavesStateAlone() throws {
        var sealer = FrameSealer(from: Self.a, to: Self.b)
        var send = CountingKeySupply(limit: 40)  // r + 1 pad, then 8 bytes short of the next pad
        _ = try seal(message(1), sealer: &sealer, keys: &send)
        #expect(throws: WireError.keySupplyExhausted) { try seal(message(2), sealer: &sealer, keys: &send) }
        #expect(sealer.nextSequence == 2)
        send.limit = .max
        var firstSealer = FrameSealer(from: Self.a, to: Self.b)
        var firstKeys = CountingKeySupply()
        let f1 = try seal(message(1), sealer: &firstSealer, keys: &firstKeys)
        let f2 = try seal(message(2), sealer: &sealer, keys: &send)
        var verifier = FrameVerifier(from: Self.a, to: Self.b)
        var receive = CountingKeySupply()
        _ = try open(f1, verifier: &verifier, keys: &receive)
        _ = try open(f2, verifier: &verifier, keys: &receive)
        #expect(receive.position == send.position)
    }

    @Test func wrongLinkIsRefused() throws {
        var sealer = FrameSealer(from: Self.a, to: Self.b)
        var send = CountingKeySupply()
        var wrong = message(1)
        wrong.to = NodeID(99)
        #expect(throws: WireError.invalidField(.receiver)) { try seal(wrong, sealer: &sealer, keys: &send) }
        #expect(send.position == 0)
        let frame = try seal(message(1), sealer: &sealer, keys: &send)
        var verifier = FrameVerifier(from: Self.b, to: Self.a)
        var receive = CountingKeySupply()
        #expect(throws: WireError.invalidField(.sender)) { try open(frame, verifier: &verifier, keys: &receive) }
        #expect(receive.position == 0)
    }

    @Test func forgeryBoundIsDocumentedFigure() {
        // 8 · ⌈66,544 / 16⌉ / 2^106 = 33,272 / 2^106 ≈ 2^-90.98
        let p = AuthenticationCost.forgeryProbabilityPerAttempt()
        #expect(p == 33_272 / 0x1p106)
        #expect(p * Double(AuthenticationPolicy.default.maximumFailures) < 0x1p-74)
    }
}

