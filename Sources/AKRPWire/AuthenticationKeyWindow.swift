import AKRPEngine

/// The authentication key of a few consecutive sequence numbers on one directed link: for each, the
/// hash key `r` in force and the one-time pad. Key bytes live in one buffer allocated at creation and
/// wiped when used and when the window goes away.
///
/// Sequence `s` (from `firstSequence` on) uses pad number `s - firstSequence` and hash key number
/// `(s - firstSequence) / hashKeyLifetime`; the key stream is: r₀, pad₀, pad₁, …, r₁, pad_L, ….
struct AuthenticationKeyWindow: ~Copyable {
    static let slotLength = 32  // r (16) then pad (16)
    static let capacity = AuthenticationPolicy.verificationWindow

    /// `current r (16) | slot 0 | slot 1 | …`.
    let storage: UnsafeMutableRawBufferPointer
    let policy: AuthenticationPolicy
    let firstSequence: UInt64
    /// The lowest sequence number not yet consumed: the next one a frame may use.
    private(set) var lowest: UInt64
    /// The next sequence number whose key has not been drawn.
    private(set) var nextToDraw: UInt64
    /// Hash key epoch held in `storage[0..<16]`, or `nil` before the first draw.
    private var currentEpoch: UInt64?
    /// Bytes drawn from the supply so far.
    private(set) var bytesDrawn: UInt64 = 0

    init(policy: AuthenticationPolicy, firstSequence: UInt64) {
        self.policy = policy
        self.firstSequence = firstSequence
        self.lowest = firstSequence
        self.nextToDraw = firstSequence
        storage = .allocate(byteCount: 16 + Self.capacity * Self.slotLength, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        wipe(storage)
        storage.deallocate()
    }

    /// Checks that `sequence` may be used now.
    /// - Throws: `.replayed` below the window, `.sequenceGapTooLarge` past it.
    @inline(__always)
    func admit(_ sequence: UInt64) throws(WireError) {
        guard sequence >= lowest else { throw .replayed(sequence: sequence) }
        guard sequence - lowest < UInt64(Self.capacity) else { throw .sequenceGapTooLarge(sequence: sequence) }
    }

    @inline(__always)
    func slot(_ sequence: UInt64) -> UnsafeMutableRawPointer {
        let index = Int((sequence - firstSequence) % UInt64(Self.capacity))
        return storage.baseAddress! + 16 + index * Self.slotLength
    }

    /// Draws key up to and including `sequence` (admitted before); returns its slot (r, then pad).
    @inline(__always)
    mutating func key<Supply: AuthenticationKeySupply & ~Copyable>(
        for sequence: UInt64, from supply: inout Supply
    ) throws(WireError) -> UnsafeRawPointer {
        while nextToDraw <= sequence {
            let epoch = (nextToDraw - firstSequence) / policy.hashKeyLifetime
            let r = UnsafeMutableRawBufferPointer(start: storage.baseAddress!, count: 16)
            if currentEpoch != epoch {
                try supply.draw(into: r)
                bytesDrawn &+= AuthenticationCost.hashKeyBytes
                currentEpoch = epoch
            }
            let target = slot(nextToDraw)
            try supply.draw(into: UnsafeMutableRawBufferPointer(start: target + 16, count: 16))
            bytesDrawn &+= AuthenticationCost.padBytesPerFrame
            target.copyMemory(from: r.baseAddress!, byteCount: 16)
            nextToDraw += 1
        }
        return UnsafeRawPointer(slot(sequence))
    }

    /// Wipes the key of every sequence number up to and including `sequence` and moves past it.
    /// The caller has drawn key through `sequence` first, so the stream stays aligned.
    @inline(__always)
    mutating func consume(through sequence: UInt64) {
        while lowest <= sequence {
            if lowest < nextToDraw {
                wipe(UnsafeMutableRawBufferPointer(start: slot(lowest), count: Self.slotLength))
            }
            lowest += 1
        }
    }
}
