public import AKRPEngine

/// Pool-keyed authentication of neighbour frames with a recycled hash key (docs/WIRE.md §4.6).
///
/// A frame's MAC is Wegman–Carter: a universal hash of the frame under a **hash key** that is reused for
/// many frames, plus a fresh 8-byte **one-time pad** per frame. Both come from key units the *sender* owns
/// in its link pool (taken by the engine, `Engine.takeAuthenticationKey(toward:into:)`):
/// - hash-key unit (32 bytes): Poly1305 `r` (bytes 0–15, clamped) ‖ `a` (16–23) ‖ `b` (24–31);
/// - pad unit (32 bytes): four 8-byte pads, one per frame.
///
/// The frame's `sequence` is `padUnit × 4 + slot`; the 16-byte trailer after the body is the hash-key
/// unit's index (8) and the tag (8):
///
///     x   = Poly1305_r(header ‖ body ‖ hashKeyIndex) mod 2^128     (RFC 8439 §2.5 with s = 0)
///     tag = a·x₀ ⊕ b·x₁ ⊕ pad                                      (in GF(2^64); x = x₀ + 2^64·x₁)
///
/// A forgery attempt succeeds with probability at most 2^-64 + 8⌈L/16⌉·2^-106 for an L-byte frame
/// (≤ 2^-63.99 for every frame size the codec takes); the link key spent is 64 bits per frame plus one
/// 256-bit hash key per ``defaultHashKeyLifetime`` frames. The stateful halves that take and check the
/// units are ``PoolKeySealer`` and ``PoolKeyVerifier``; this type only computes and checks tags.
public enum PoolKeyedFrames {
    /// Bytes of the one-time pad of one frame (the tag's width).
    public static let padBytes = FrameKeyCost.padBytes
    /// Pads one key unit provides (its first 32 bytes).
    public static let padsPerUnit = FrameKeyCost.padsPerUnit
    /// Bytes of a hash key: Poly1305 `r` (16), `a` (8), `b` (8).
    public static let hashKeyBytes = 32
    /// Frames keyed under one hash key before the sender takes a new one (2^20).
    public static let defaultHashKeyLifetime = FrameKeyCost.hashKeyLifetime
    /// Largest pad unit index a sequence number can name.
    public static let maximumPadUnit: UnitIndex = UnitIndex.max >> 2

    /// The sequence number of pad `slot` (0…3) of unit `unit`.
    @inline(__always)
    public static func sequence(padUnit unit: UnitIndex, slot: Int) -> UInt64 { unit &<< 2 | UInt64(slot & 3) }

    /// The pad unit and slot a sequence number names.
    @inline(__always)
    public static func padPosition(of sequence: UInt64) -> (unit: UnitIndex, slot: Int) {
        (sequence &>> 2, Int(sequence & 3))
    }

    /// Encodes `message` (its `sequence` names the pad, see ``sequence(padUnit:slot:)``) and writes the
    /// trailer: `hashKeyIndex` and the tag under `hashKey` (32 bytes) and `pad` (8 bytes). Returns the frame
    /// length.
    /// - Throws: the codec's ``WireError``s; `.keySupplyExhausted` when a key buffer is too short.
    public static func seal(
        _ message: Message, payload: UnsafeRawBufferPointer, hashKey: UnsafeRawBufferPointer,
        hashKeyIndex: UnitIndex, pad: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer
    ) throws(WireError) -> Int {
        guard hashKey.count >= hashKeyBytes, pad.count >= padBytes else { throw .keySupplyExhausted }
        let length = try MessageCodec.encodeUnsealed(message, payload: payload, into: buffer)
        try sealPrepared(buffer, length: length, hashKey: hashKey, hashKeyIndex: hashKeyIndex, pad: pad)
        return length
    }

    /// Writes the trailer of a frame whose header and body are already in `buffer` and whose whole length,
    /// trailer included, is `length` (a single message or a ``MessageBundle``).
    /// - Throws: `.keySupplyExhausted` when a key buffer is too short; `.bufferTooSmall` for a bad length.
    public static func sealPrepared(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, hashKey: UnsafeRawBufferPointer,
        hashKeyIndex: UnitIndex, pad: UnsafeRawBufferPointer
    ) throws(WireError) {
        guard hashKey.count >= hashKeyBytes, pad.count >= padBytes else { throw .keySupplyExhausted }
        guard length >= WireFormat.headerLength + WireFormat.tagLength, length <= buffer.count else {
            throw .bufferTooSmall(needed: max(length, WireFormat.headerLength + WireFormat.tagLength))
        }
        let trailer = length - WireFormat.tagLength
        let base = buffer.baseAddress!
        base.storeBytes(of: hashKeyIndex.bigEndian, toByteOffset: trailer, as: UInt64.self)
        let tag = Self.tag(
            UnsafeRawBufferPointer(start: base, count: trailer + 8), hashKey: hashKey.baseAddress!, pad: pad.baseAddress!)
        base.storeBytes(of: tag.bigEndian, toByteOffset: trailer + 8, as: UInt64.self)
    }

    /// The hash-key index a frame's trailer names (the frame's length must have been checked, e.g. by
    /// ``header(of:maximumFrameSize:)``).
    public static func hashKeyIndex(of frame: UnsafeRawBufferPointer, header: FrameHeader) -> UnitIndex {
        let trailer = header.frameLength - WireFormat.tagLength
        guard trailer >= 0, frame.count >= trailer + 8, let base = frame.baseAddress else { return 0 }
        return UInt64(bigEndian: base.loadUnaligned(fromByteOffset: trailer, as: UInt64.self))
    }

    /// Reads the header of a neighbour frame or bundle: who sent it and which pad (sequence) keys it.
    /// - Throws: header errors, `.unknownType` for a control frame, `.truncated`/`.trailingBytes`.
    public static func header(
        of frame: UnsafeRawBufferPointer, maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize
    ) throws(WireError) -> FrameHeader {
        let header = try FrameHeader.parse(frame, maximumFrameSize: maximumFrameSize)
        switch header.frameClass {
        case .neighbour, .bundle: break
        case .control: throw .unknownType(header.type)
        }
        try MessageCodec.checkExactLength(frame, header)
        return header
    }

    /// Checks the tag of `frame` under `hashKey` (32 bytes) and `pad` (8 bytes), in constant time.
    public static func verify(
        _ frame: UnsafeRawBufferPointer, header: FrameHeader, hashKey: UnsafeRawBufferPointer,
        pad: UnsafeRawBufferPointer
    ) -> Bool {
        guard hashKey.count >= hashKeyBytes, pad.count >= padBytes, let base = frame.baseAddress,
            header.frameLength == frame.count, header.frameLength >= WireFormat.headerLength + WireFormat.tagLength
        else { return false }
        let trailer = header.frameLength - WireFormat.tagLength
        let expected = tag(
            UnsafeRawBufferPointer(start: base, count: trailer + 8), hashKey: hashKey.baseAddress!, pad: pad.baseAddress!)
        let carried = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: trailer + 8, as: UInt64.self))
        return expected ^ carried == 0
    }

    /// Checks the tag (``verify(_:header:hashKey:pad:)``) and decodes the frame.
    /// - Throws: `.authenticationFailed` when the tag does not match (nothing was decoded), or a codec
    ///   error for a body that is malformed although authentic.
    public static func open(
        _ frame: UnsafeRawBufferPointer, header: FrameHeader, hashKey: UnsafeRawBufferPointer,
        pad: UnsafeRawBufferPointer, payloadInto: UnsafeMutableRawBufferPointer? = nil
    ) throws(WireError) -> DecodedMessage {
        guard case .neighbour(let kind) = header.frameClass,
            verify(frame, header: header, hashKey: hashKey, pad: pad)
        else { throw .authenticationFailed }
        return try MessageCodec.decodeBody(frame, header: header, kind: kind, payloadInto: payloadInto)
    }

    /// `a·x₀ ⊕ b·x₁ ⊕ pad` with `x = Poly1305_r(authenticated) mod 2^128`.
    @_noAllocation
    @inline(__always)
    static func tag(_ authenticated: UnsafeRawBufferPointer, hashKey: UnsafeRawPointer, pad: UnsafeRawPointer) -> UInt64 {
        var zero: (UInt64, UInt64) = (0, 0)
        var x: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &x) { out in
            withUnsafeBytes(of: &zero) { s in
                Poly1305.compute(authenticated, r: hashKey, s: s.baseAddress!, tag: out.baseAddress!)
            }
        }
        let x0 = UInt64(littleEndian: x.0)
        let x1 = UInt64(littleEndian: x.1)
        let a = UInt64(littleEndian: hashKey.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let b = UInt64(littleEndian: hashKey.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        let p = UInt64(littleEndian: pad.loadUnaligned(as: UInt64.self))
        let t = GF64.multiply(a, x0) ^ GF64.multiply(b, x1) ^ p
        x = (0, 0)
        return t
    }
}
