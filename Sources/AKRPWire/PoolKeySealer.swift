public import AKRPEngine

/// The sending half of pool-keyed authentication on one link (docs/WIRE.md §4.6): holds the current
/// hash key and pad unit, takes new units from the engine when the pads run out or the hash key's
/// lifetime ends, and seals frames. Confined to the engine's thread. Key bytes live in two buffers
/// allocated at creation, wiped when replaced, on ``reset()`` and when the sealer goes away.
public final class PoolKeySealer {
    /// Frames keyed under one hash key before a new one is taken.
    public let hashKeyLifetime: Int
    /// The current hash key unit (nil before the first frame, after a reset).
    public private(set) var hashKeyIndex: UnitIndex?
    /// The current pad unit.
    public private(set) var padIndex: UnitIndex?
    /// Units taken from the engine so far (hash keys and pad units).
    public private(set) var unitsTaken: UInt64 = 0
    private var nextSlot = PoolKeyedFrames.padsPerUnit
    private var framesUnderHashKey = 0
    private let hashKey: UnsafeMutableRawBufferPointer
    private let pads: UnsafeMutableRawBufferPointer

    /// A sealer with no key yet; `hashKeyLifetime` is clamped to 1…2^40 frames.
    public init(hashKeyLifetime: Int = PoolKeyedFrames.defaultHashKeyLifetime) {
        self.hashKeyLifetime = min(max(hashKeyLifetime, 1), 1 << 40)
        hashKey = .allocate(byteCount: PoolKeyedFrames.hashKeyBytes, alignment: 16)
        hashKey.initializeMemory(as: UInt8.self, repeating: 0)
        pads = .allocate(byteCount: 32, alignment: 16)
        pads.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        wipe(hashKey)
        wipe(pads)
        hashKey.deallocate()
        pads.deallocate()
    }

    /// Forgets the keys (a new connection): the next frame takes a new hash key and pad unit. Pads of the
    /// current unit that were not used are never used.
    public func reset() {
        wipe(hashKey)
        wipe(pads)
        hashKeyIndex = nil
        padIndex = nil
        nextSlot = PoolKeyedFrames.padsPerUnit
        framesUnderHashKey = 0
    }

    /// Seals `message` to `neighbour` into `buffer`, taking key units from `engine` as needed (`took` is
    /// called with each unit's index, in order, before the frame exists — for the audit log). Sets the
    /// message's sequence number. Returns the frame length, or nil when the engine has no own unit to
    /// give yet (the frame must wait for key; a hash key already taken is kept).
    /// - Throws: the codec's ``WireError``s for a message that cannot be encoded (its pad is spent).
    public func seal(
        _ message: Message, payload: UnsafeRawBufferPointer, engine: Engine, toward neighbour: NodeID,
        into buffer: UnsafeMutableRawBufferPointer, took: (UnitIndex) -> Void
    ) throws(WireError) -> Int? {
        try sealFrame(engine: engine, toward: neighbour, into: buffer, took: took) { sequence throws(WireError) in
            var keyed = message
            keyed.sequence = sequence
            return try MessageCodec.encodeUnsealed(keyed, payload: payload, into: buffer)
        }
    }

    /// Seals the frame that `write` puts into `buffer` — header and body with the sequence number it is
    /// given, returning the whole length with the trailer's 16 bytes (e.g. a ``MessageBundle``) — taking
    /// key units as ``seal(_:payload:engine:toward:into:took:)`` does. Nil when no key unit is available.
    public func sealFrame(
        engine: Engine, toward neighbour: NodeID, into buffer: UnsafeMutableRawBufferPointer,
        took: (UnitIndex) -> Void, write: (UInt64) throws(WireError) -> Int
    ) throws(WireError) -> Int? {
        if hashKeyIndex == nil || framesUnderHashKey >= hashKeyLifetime {
            guard let unit = engine.takeAuthenticationKey(toward: neighbour, into: hashKey) else { return nil }
            took(unit)
            unitsTaken += 1
            hashKeyIndex = unit
            framesUnderHashKey = 0
            // Pads must come from units after the hash key's (the receiver checks the order).
            wipe(pads)
            padIndex = nil
            nextSlot = PoolKeyedFrames.padsPerUnit
        }
        if padIndex == nil || nextSlot >= PoolKeyedFrames.padsPerUnit {
            guard let unit = engine.takeAuthenticationKey(toward: neighbour, into: pads) else { return nil }
            took(unit)
            unitsTaken += 1
            guard unit <= PoolKeyedFrames.maximumPadUnit else {
                wipe(pads)
                padIndex = nil
                throw .invalidField(.sequence)
            }
            padIndex = unit
            nextSlot = 0
        }
        guard let hashKeyIndex, let padIndex else { return nil }
        let slot = nextSlot
        nextSlot += 1
        framesUnderHashKey += 1
        let pad = UnsafeMutableRawBufferPointer(rebasing: pads[(slot * 8)..<(slot * 8 + 8)])
        defer { wipe(pad) }
        let length = try write(PoolKeyedFrames.sequence(padUnit: padIndex, slot: slot))
        try PoolKeyedFrames.sealPrepared(
            buffer, length: length, hashKey: UnsafeRawBufferPointer(hashKey), hashKeyIndex: hashKeyIndex,
            pad: UnsafeRawBufferPointer(pad))
        return length
    }
}
