public import AKRPEngine

/// Feeds one link end's key pool of an ``Engine`` from any ``KeySource``: the adapter between the
/// device layer and the protocol engine. Each `accept` is one engine input (`deliverKey`), so what the
/// delivery completes (relay shares, keys) lands in `outbox` for the shell to send and report.
///
/// Units a source reports as lost (``discard(link:units:)``) are never used: the next delivery starts
/// past them, and the pool burns the gap (docs/PROTOCOL.md §3.2).
public struct EnginePoolSink: KeySink {
    /// The engine whose pool is fed.
    public let engine: Engine
    /// The neighbour at the other end of the link.
    public let peer: NodeID
    /// Where the engine puts what a delivery completes (frames, keys).
    public let outbox: Outbox
    /// Engine time of the deliveries; the shell sets it before each `deliver`.
    public var now: Nanoseconds
    /// One past the last unit reported lost, while no later unit has been delivered.
    private var gapEnd: UnitIndex?

    /// A sink for the pool of `engine` on its link to `peer`.
    public init(engine: Engine, peer: NodeID, outbox: Outbox, now: Nanoseconds) {
        self.engine = engine
        self.peer = peer
        self.outbox = outbox
        self.now = now
    }

    private var link: LinkID { LinkID(engine.node, peer) }

    /// Units the pool can still take.
    public var freeUnits: Int { engine.pool(toward: peer)?.room ?? 0 }

    /// The unit index the next delivery must start at (nil before the pool started).
    public var nextExpectedIndex: UnitIndex? {
        guard let pool = engine.pool(toward: peer), pool.started else { return gapEnd }
        return max(pool.tail, gapEnd ?? 0)
    }

    /// Delivers `unitCount` units starting at `firstIndex` into the engine's pool (one engine input).
    /// - Throws: ``KeySinkError`` for another link, another unit size, a length mismatch, a gap or no room;
    ///   nothing is delivered then.
    public mutating func accept(
        link other: LinkID, firstIndex: UnitIndex, unitCount: Int, unitSize: Int, bytes: UnsafeRawBufferPointer
    ) throws(KeySinkError) {
        guard other == link else { throw .wrongLink(expected: link, got: other) }
        guard unitSize == engine.configuration.unitSize else {
            throw .wrongUnitSize(expected: engine.configuration.unitSize, got: unitSize)
        }
        guard unitCount >= 0, bytes.count == unitCount * unitSize else {
            throw .lengthMismatch(expected: unitCount * unitSize, got: bytes.count)
        }
        if let expected = nextExpectedIndex, firstIndex != expected {
            throw .notContiguous(expected: expected, got: firstIndex)
        }
        guard unitCount <= freeUnits else { throw .noRoom(free: freeUnits, requested: unitCount) }
        guard unitCount > 0 else { return }
        do throws(KeyPoolError) {
            try engine.deliverKey(from: peer, index: firstIndex, bytes: bytes, now: now, outbox: outbox)
        } catch {
            switch error {
            case .full: throw .noRoom(free: freeUnits, requested: unitCount)
            case .outOfOrder(let expected, let got): throw .notContiguous(expected: expected, got: got)
            case .badLength, .notStarted: throw .lengthMismatch(expected: unitCount * unitSize, got: bytes.count)
            }
        }
        gapEnd = nil
    }

    /// Records that the source lost `units` (they are never used; the next delivery starts past them).
    /// - Throws: ``KeySinkError`` for another link or a range that does not start where expected.
    public mutating func discard(link other: LinkID, units: Range<UnitIndex>) throws(KeySinkError) {
        guard other == link else { throw .wrongLink(expected: link, got: other) }
        if let expected = nextExpectedIndex, units.lowerBound != expected {
            throw .notContiguous(expected: expected, got: units.lowerBound)
        }
        gapEnd = units.upperBound
    }
}
