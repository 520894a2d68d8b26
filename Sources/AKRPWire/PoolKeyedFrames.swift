public import AKRPEngine

/// Pool-keyed authentication of neighbour frames: each frame is keyed by one whole key unit owned by
/// its sender — Poly1305 hash key `r` = the unit's first 16 bytes, one-time pad `s` = its last 16 —
/// and the frame's sequence number is that unit's index (docs/WIRE.md §4.6).
///
/// The engine chooses and accounts the key (`Engine.takeAuthenticationKey(toward:into:)` when sending,
/// `Engine.authenticationKey(from:index:into:)` and `consumeAuthenticationKey(from:index:)` when
/// receiving); this type only computes and checks tags. Since every frame has a fresh `r` and `s`, a
/// forgery succeeds with probability at most 8⌈L/16⌉·2^-106 for an L-byte frame, and nothing is learnt
/// across frames. Replay and reordering are refused because the indices strictly increase.
public enum PoolKeyedFrames {
    /// Encodes `message` (whose `sequence` must be the key unit's index) and writes its tag with `key`
    /// (32 bytes). Returns the frame length.
    /// - Throws: the codec's ``WireError``s; `.invalidField(.sequence)` when the sequence is 0.
    public static func seal(
        _ message: Message, payload: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(WireError) -> Int {
        guard key.count >= 32 else { throw .keySupplyExhausted }
        let length = try MessageCodec.encodeUnsealed(message, payload: payload, into: buffer)
        let authenticated = length - WireFormat.tagLength
        Poly1305.compute(
            UnsafeRawBufferPointer(start: buffer.baseAddress!, count: authenticated), r: key.baseAddress!,
            s: key.baseAddress! + 16, tag: buffer.baseAddress! + authenticated)
        return length
    }

    /// Reads the header of a neighbour frame: who sent it and which key unit (sequence) keys it.
    /// - Throws: header errors, `.unknownType` for a control frame, `.truncated`/`.trailingBytes`.
    public static func header(
        of frame: UnsafeRawBufferPointer, maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize
    ) throws(WireError) -> FrameHeader {
        let header = try FrameHeader.parse(frame, maximumFrameSize: maximumFrameSize)
        guard case .neighbour = header.frameClass else { throw .unknownType(header.type) }
        try MessageCodec.checkExactLength(frame, header)
        return header
    }

    /// Checks the tag of `frame` with `key` (32 bytes) and decodes it.
    /// - Throws: `.authenticationFailed` when the tag does not match (nothing was decoded), or a codec
    ///   error for a body that is malformed although authentic.
    public static func open(
        _ frame: UnsafeRawBufferPointer, header: FrameHeader, key: UnsafeRawBufferPointer,
        payloadInto: UnsafeMutableRawBufferPointer? = nil
    ) throws(WireError) -> DecodedMessage {
        guard key.count >= 32, case .neighbour(let kind) = header.frameClass else { throw .authenticationFailed }
        let authenticated = header.frameLength - WireFormat.tagLength
        var expected: (UInt64, UInt64) = (0, 0)
        let match = withUnsafeMutableBytes(of: &expected) { tag in
            Poly1305.compute(
                UnsafeRawBufferPointer(start: frame.baseAddress!, count: authenticated), r: key.baseAddress!,
                s: key.baseAddress! + 16, tag: tag.baseAddress!)
            return Poly1305.tagsEqual(tag.baseAddress!, frame.baseAddress! + authenticated)
        }
        guard match else { throw .authenticationFailed }
        return try MessageCodec.decodeBody(frame, header: header, kind: kind, payloadInto: payloadInto)
    }
}
