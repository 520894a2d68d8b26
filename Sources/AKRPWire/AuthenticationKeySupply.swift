/// The source of link key for frame authentication on one *directed* link (one end's sending
/// direction, or its receiving direction).
///
/// Both ends of a link must see the same byte stream for the same direction: the sender's sealer and
/// the receiver's verifier draw the same bytes in the same order (hash keys and one-time pads,
/// interleaved as ``AuthenticationPolicy`` says). The two directions must draw disjoint key. The engine
/// implements this from its key pools, which thereby pay for authentication.
public protocol AuthenticationKeySupply: ~Copyable {
    /// Fills all of `buffer` with the next bytes of this direction's authentication key stream.
    ///
    /// Either the whole buffer is filled and the stream advances by `buffer.count` bytes, or the call
    /// throws and the stream does not advance.
    /// - Throws: `.keySupplyExhausted` when not enough key is available.
    mutating func draw(into buffer: UnsafeMutableRawBufferPointer) throws(WireError)
}

/// How the Wegman–Carter MAC spends link key, and how much failure it tolerates.
public struct AuthenticationPolicy: Sendable, Equatable {
    /// Frames authenticated under one Poly1305 hash key `r` before a fresh one is drawn. The pads are
    /// fresh for every frame, so `r` stays secret however many valid tags an attacker sees; renewal
    /// limits how much traffic one hash key protects (defence in depth, see `docs/WIRE.md`).
    public var hashKeyLifetime: UInt64
    /// Verification failures a verifier tolerates before it locks (each failure tells an attacker a
    /// little about `r`). With the default, a forgery succeeds with probability at most 2^-75.
    public var maximumFailures: UInt32

    /// How far ahead of the next expected sequence number a frame may be (lost frames), in frames.
    /// Pads for skipped sequence numbers are drawn and burned.
    public static let verificationWindow = 8

    /// The default policy: a new hash key every 65,536 frames, lock after 65,536 failures.
    public static let `default` = AuthenticationPolicy(hashKeyLifetime: 1 << 16, maximumFailures: 1 << 16)

    /// Creates a policy. A lifetime of 0 is treated as 1 (a new hash key for every frame).
    public init(hashKeyLifetime: UInt64, maximumFailures: UInt32) {
        self.hashKeyLifetime = max(hashKeyLifetime, 1)
        self.maximumFailures = maximumFailures
    }
}

/// The link-key cost of authentication, for the engine's pools and the simulator's accounting.
public enum AuthenticationCost {
    /// Bytes of one-time pad per frame (the tag is encrypted with it): 16.
    public static let padBytesPerFrame: UInt64 = 16
    /// Bytes of one Poly1305 hash key `r`: 16.
    public static let hashKeyBytes: UInt64 = 16
    /// Bytes of tag on the wire per neighbour frame: 16.
    public static let tagBytesPerFrame = WireFormat.tagLength

    /// Link key drawn by a session that authenticates `frames` frames (sequence numbers
    /// `first ..< first + frames`, none skipped), including its hash keys, in bytes.
    public static func keyBytes(forFrames frames: UInt64, policy: AuthenticationPolicy = .default) -> UInt64 {
        guard frames > 0 else { return 0 }
        let hashKeys = (frames - 1) / policy.hashKeyLifetime + 1
        return frames &* padBytesPerFrame &+ hashKeys &* hashKeyBytes
    }

    /// Long-run link key per frame, in bytes: 16 + 16 / lifetime (16.000244 with the default).
    public static func averageKeyBytesPerFrame(policy: AuthenticationPolicy = .default) -> Double {
        Double(padBytesPerFrame) + Double(hashKeyBytes) / Double(policy.hashKeyLifetime)
    }

    /// Upper bound on the probability that one forged frame of at most `frameLength` bytes verifies:
    /// 8·⌈L/16⌉ / 2^106 for Poly1305 with a fresh pad (L = authenticated bytes).
    public static func forgeryProbabilityPerAttempt(frameLength: Int = WireFormat.defaultMaximumFrameSize) -> Double {
        let blocks = (max(frameLength - WireFormat.tagLength, 0) + 15) / 16
        return 8 * Double(blocks) / 0x1p106
    }
}
