public import AKRPEngine

/// The receiving half of pool-keyed authentication on one link (docs/WIRE.md §4.6). Accepts a frame
/// only if its sequence number is above the last accepted one (no replay, no reordering), its hash key
/// is the current one or a fresh unit of the sender's, its pad unit is the current one or a fresh unit
/// after the hash key, and its tag verifies; only then are new units consumed in the engine — a forged
/// frame burns no key. Key bytes live in buffers allocated at creation and are wiped when replaced or used,
/// on ``reset()`` and when the verifier goes away. Confined to the engine's thread.
public final class PoolKeyVerifier {
    /// What became of a frame.
    public enum Outcome {
        /// Authentic and decoded; the units it introduced were consumed.
        case accepted(DecodedMessage)
        /// An authentic ``MessageBundle`` (the units it introduced were consumed): decode it with
        /// ``MessageBundle/decode(_:header:maximumFrameSize:payloadInto:body:)``.
        case acceptedBundle
        /// Names a unit this end cannot look up (not delivered here yet, already used, not the sender's, …):
        /// the caller decides whether to wait for key or drop the frame. Nothing changed.
        case unknownUnit(UnitIndex)
        /// Refused (`.authenticationFailed`, `.replayed`, `.staleHashKey`, `.invalidField(.sequence)`);
        /// nothing changed.
        case refused(WireError)
        /// Authentic but its body is malformed: its units were consumed (they are never used again).
        case malformed(WireError)
    }

    /// The last accepted sequence number.
    public private(set) var lastSequence: UInt64?
    /// The current hash key unit.
    public private(set) var hashKeyIndex: UnitIndex?
    /// The current pad unit.
    public private(set) var padIndex: UnitIndex?
    private let hashKey: UnsafeMutableRawBufferPointer
    private let pads: UnsafeMutableRawBufferPointer
    private let newHashKey: UnsafeMutableRawBufferPointer
    private let newPads: UnsafeMutableRawBufferPointer

    /// A verifier that has accepted nothing yet.
    public init() {
        func buffer() -> UnsafeMutableRawBufferPointer {
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 16)
            b.initializeMemory(as: UInt8.self, repeating: 0)
            return b
        }
        hashKey = buffer()
        pads = buffer()
        newHashKey = buffer()
        newPads = buffer()
    }

    deinit {
        for b in [hashKey, pads, newHashKey, newPads] {
            wipe(b)
            b.deallocate()
        }
    }

    /// Forgets the cached keys (a new connection: the sender starts with new units). The last accepted
    /// sequence number stays, so nothing from before can be replayed.
    public func reset() {
        wipe(hashKey)
        wipe(pads)
        hashKeyIndex = nil
        padIndex = nil
    }

    /// Verifies `frame` (whose header was read with `PoolKeyedFrames.header(of:)`) from `neighbour`;
    /// `consumed` is called with each unit consumed in `engine`, in order.
    public func open(
        _ frame: UnsafeRawBufferPointer, header: FrameHeader, engine: Engine, from neighbour: NodeID,
        payloadInto: UnsafeMutableRawBufferPointer? = nil, consumed: (UnitIndex) -> Void
    ) -> Outcome {
        let sequence = header.sequence
        if let last = lastSequence, sequence <= last { return .refused(.replayed(sequence: sequence)) }
        let (padUnit, slot) = PoolKeyedFrames.padPosition(of: sequence)
        let named = PoolKeyedFrames.hashKeyIndex(of: frame, header: header)
        var freshHashKey = false
        if let current = hashKeyIndex, named == current {
            // the current hash key
        } else if let current = hashKeyIndex, named < current {
            return .refused(.staleHashKey(index: named))
        } else {
            // A new hash key: the sender takes it before the pad unit that follows it.
            guard named < padUnit else { return .refused(.invalidField(.sequence)) }
            guard engine.authenticationKey(from: neighbour, index: named, into: newHashKey) else {
                return .unknownUnit(named)
            }
            freshHashKey = true
        }
        var freshPads = false
        if !freshHashKey, let current = padIndex, padUnit == current {
            // the current pad unit; its slot is unused since the sequence number increased
        } else if let current = padIndex, padUnit <= current {
            wipe(newHashKey)
            return .refused(.invalidField(.sequence))
        } else {
            guard engine.authenticationKey(from: neighbour, index: padUnit, into: newPads) else {
                wipe(newHashKey)
                return .unknownUnit(padUnit)
            }
            freshPads = true
        }
        let key = UnsafeRawBufferPointer(freshHashKey ? newHashKey : hashKey)
        let padSource = freshPads ? newPads : pads
        let pad = UnsafeMutableRawBufferPointer(rebasing: padSource[(slot * 8)..<(slot * 8 + 8)])
        guard PoolKeyedFrames.verify(frame, header: header, hashKey: key, pad: UnsafeRawBufferPointer(pad)) else {
            wipe(newHashKey)
            wipe(newPads)
            return .refused(.authenticationFailed)
        }
        // Authentic: consume what it introduced, keep it, spend the pad.
        if freshHashKey {
            engine.consumeAuthenticationKey(from: neighbour, index: named)
            consumed(named)
            hashKey.copyMemory(from: UnsafeRawBufferPointer(newHashKey))
            wipe(newHashKey)
            hashKeyIndex = named
        }
        if freshPads {
            engine.consumeAuthenticationKey(from: neighbour, index: padUnit)
            consumed(padUnit)
            pads.copyMemory(from: UnsafeRawBufferPointer(newPads))
            wipe(newPads)
            padIndex = padUnit
        }
        wipe(UnsafeMutableRawBufferPointer(rebasing: pads[(slot * 8)..<(slot * 8 + 8)]))
        lastSequence = sequence
        if header.frameClass == .bundle { return .acceptedBundle }
        guard case .neighbour(let kind) = header.frameClass else { return .malformed(.unknownType(header.type)) }
        do throws(WireError) {
            return .accepted(try MessageCodec.decodeBody(frame, header: header, kind: kind, payloadInto: payloadInto))
        } catch {
            return .malformed(error)
        }
    }
}
