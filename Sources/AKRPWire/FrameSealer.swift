public import AKRPEngine

/// The sending side of one directed link: encodes messages and appends their Wegman–Carter tag.
///
/// The tag of the frame with sequence number `s` is Poly1305 with hash key `r` (renewed every
/// ``AuthenticationPolicy/hashKeyLifetime`` frames) and a fresh 16-byte one-time pad, both drawn from
/// the link's ``AuthenticationKeySupply``. Sequence numbers must increase; a skipped number burns
/// its pad so that both ends stay aligned on the key stream.
public struct FrameSealer: ~Copyable {
    /// The sending node.
    public let sender: NodeID
    /// The receiving neighbour.
    public let receiver: NodeID
    private var window: AuthenticationKeyWindow

    /// A sealer for frames from `sender` to `receiver`, whose first frame has sequence number
    /// `firstSequence`. Allocates its key buffer here, once.
    public init(
        from sender: NodeID, to receiver: NodeID, firstSequence: UInt64 = 1,
        policy: AuthenticationPolicy = .default
    ) {
        self.sender = sender
        self.receiver = receiver
        window = AuthenticationKeyWindow(policy: policy, firstSequence: firstSequence)
    }

    /// The sequence number the next frame should carry.
    public var nextSequence: UInt64 { window.lowest }

    /// Link key drawn so far, in bytes (hash keys and pads).
    public var keyBytesDrawn: UInt64 { window.bytesDrawn }

    /// Encodes `message` (whose `sequence` field gives the frame's sequence number) with its payload
    /// into `buffer`, appends the tag, and returns the frame length.
    ///
    /// Nothing is drawn from `keys` when the message is invalid or the buffer too small.
    /// - Throws: `.invalidField(.sender/.receiver)` when the message is not for this link; the errors of
    ///   ``MessageCodec/encodeUnsealed(_:payload:into:)``; `.replayed` when the sequence number is not
    ///   above the last sealed one; `.sequenceGapTooLarge`; `.keySupplyExhausted` from `keys`.
    public mutating func seal<Supply: AuthenticationKeySupply & ~Copyable>(
        _ message: Message, payload: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer,
        keys: inout Supply
    ) throws(WireError) -> Int {
        guard message.from == sender else { throw .invalidField(.sender) }
        guard message.to == receiver else { throw .invalidField(.receiver) }
        try window.admit(message.sequence)
        let length = try MessageCodec.encodeUnsealed(message, payload: payload, into: buffer)
        let key = try window.key(for: message.sequence, from: &keys)
        let authenticated = length - WireFormat.tagLength
        Poly1305.compute(
            UnsafeRawBufferPointer(start: buffer.baseAddress!, count: authenticated), r: key, s: key + 16,
            tag: buffer.baseAddress! + authenticated)
        window.consume(through: message.sequence)
        return length
    }
}

/// The receiving side of one directed link: checks sequence numbers and tags, then decodes.
///
/// A frame is accepted only if its sequence number is above every accepted one (replay and reorder
/// protection) and at most ``AuthenticationPolicy/verificationWindow`` ahead, and its tag verifies.
/// A failed frame changes nothing but the failure count, so the genuine frame with the same
/// sequence number still verifies afterwards. After ``AuthenticationPolicy/maximumFailures`` failures
/// the verifier locks: the link must be re-keyed.
public struct FrameVerifier: ~Copyable {
    /// The neighbour that sends.
    public let sender: NodeID
    /// This node.
    public let receiver: NodeID
    private var window: AuthenticationKeyWindow
    /// Frames that failed verification so far.
    public private(set) var failures: UInt32 = 0

    /// A verifier for frames from `sender` to `receiver`, whose first frame has sequence number
    /// `firstSequence`. Allocates its key buffer here, once.
    public init(
        from sender: NodeID, to receiver: NodeID, firstSequence: UInt64 = 1,
        policy: AuthenticationPolicy = .default
    ) {
        self.sender = sender
        self.receiver = receiver
        window = AuthenticationKeyWindow(policy: policy, firstSequence: firstSequence)
    }

    /// The lowest sequence number still acceptable.
    public var nextSequence: UInt64 { window.lowest }

    /// Link key drawn so far, in bytes (hash keys and pads, including burned ones).
    public var keyBytesDrawn: UInt64 { window.bytesDrawn }

    /// Whether too many failures locked this verifier.
    public var isLocked: Bool { failures >= window.policy.maximumFailures }

    /// Verifies and decodes the neighbour frame that occupies `frame` exactly.
    ///
    /// The order of checks is: header (and length cap), exact length, link ends, sequence window,
    /// tag, body. Only an authentic frame's body is parsed.
    /// - Parameter payloadInto: where to copy a commit's or share's key bytes, or `nil`.
    /// - Throws: `.authenticationLocked`; header and length errors; `.invalidField(.sender/.receiver)`
    ///   for a frame of another link; `.replayed`, `.sequenceGapTooLarge`; `.keySupplyExhausted`;
    ///   `.authenticationFailed`; body errors (the frame's sequence number is then spent).
    public mutating func open<Supply: AuthenticationKeySupply & ~Copyable>(
        _ frame: UnsafeRawBufferPointer, payloadInto: UnsafeMutableRawBufferPointer? = nil, keys: inout Supply,
        maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize
    ) throws(WireError) -> DecodedMessage {
        guard !isLocked else { throw .authenticationLocked }
        let header = try FrameHeader.parse(frame, maximumFrameSize: maximumFrameSize)
        guard case .neighbour(let kind) = header.frameClass else { throw .unknownType(header.type) }
        try MessageCodec.checkExactLength(frame, header)
        guard header.sender == sender else { throw .invalidField(.sender) }
        guard header.receiver == receiver else { throw .invalidField(.receiver) }
        try window.admit(header.sequence)
        let key = try window.key(for: header.sequence, from: &keys)
        let authenticated = header.frameLength - WireFormat.tagLength
        var expected: (UInt64, UInt64) = (0, 0)
        let match = withUnsafeMutableBytes(of: &expected) { tag in
            Poly1305.compute(
                UnsafeRawBufferPointer(start: frame.baseAddress!, count: authenticated), r: key, s: key + 16,
                tag: tag.baseAddress!)
            return Poly1305.tagsEqual(tag.baseAddress!, frame.baseAddress! + authenticated)
        }
        guard match else {
            failures += 1
            throw .authenticationFailed
        }
        // Authentic: its key is spent even if the body turns out to be malformed (a peer bug).
        window.consume(through: header.sequence)
        return try MessageCodec.decodeBody(frame, header: header, kind: kind, payloadInto: payloadInto)
    }
}
