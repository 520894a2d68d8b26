public import AKRPEngine

/// A fixed-capacity ring of one link's key units: the in-memory ``KeySink`` for tests,
/// benchmarks and simulations, until the engine's key pool adapts to ``KeySink`` itself.
///
/// Storage is allocated once at creation. Units leave through ``take(upTo:into:)`` (copied out,
/// then wiped in the ring) or ``drop(upTo:)`` (wiped). All remaining key bytes are wiped when the
/// ring is released.
public final class RingKeySink: KeySink {
    /// The link whose units the ring holds.
    public let link: LinkID
    /// The unit size in bytes.
    public let unitSize: Int
    /// The ring's capacity in units.
    public let capacity: Int
    private let storage: UnsafeMutableRawBufferPointer
    private var head = 0  // slot of the oldest held unit
    /// The number of units held now.
    public private(set) var count = 0
    /// The index of the oldest held unit (meaningful when ``count`` > 0).
    public private(set) var firstHeldIndex: UnitIndex = 0
    /// See ``KeySink/nextExpectedIndex``.
    public private(set) var nextExpectedIndex: UnitIndex?
    /// Units accepted since creation.
    public private(set) var acceptedUnits: UInt64 = 0
    /// Units announced as lost (discarded) since creation.
    public private(set) var discardedUnits: UInt64 = 0

    /// Creates an empty ring for `capacity` units of `unitSize` bytes of `link`.
    /// - Precondition: `unitSize` and `capacity` are positive (programmer error otherwise).
    public init(link: LinkID, unitSize: Int, capacity: Int) {
        precondition(unitSize > 0 && capacity > 0, "a ring needs a positive unit size and capacity")
        self.link = link
        self.unitSize = unitSize
        self.capacity = capacity
        storage = .allocate(byteCount: unitSize * capacity, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        wipe(storage)
        storage.deallocate()
    }

    /// See ``KeySink/freeUnits``.
    public var freeUnits: Int { capacity - count }

    /// See ``KeySink/accept(link:firstIndex:unitCount:unitSize:bytes:)``.
    public func accept(
        link: LinkID, firstIndex: UnitIndex, unitCount: Int, unitSize: Int, bytes: UnsafeRawBufferPointer
    ) throws(KeySinkError) {
        guard link == self.link else { throw .wrongLink(expected: self.link, got: link) }
        guard unitSize == self.unitSize else { throw .wrongUnitSize(expected: self.unitSize, got: unitSize) }
        guard unitCount >= 0, bytes.count == unitCount * unitSize else {
            throw .lengthMismatch(expected: max(0, unitCount) * unitSize, got: bytes.count)
        }
        guard unitCount <= freeUnits else { throw .noRoom(free: freeUnits, requested: unitCount) }
        if let expected = nextExpectedIndex, expected != firstIndex {
            throw .notContiguous(expected: expected, got: firstIndex)
        }
        guard unitCount > 0 else { return }
        if count == 0 { firstHeldIndex = firstIndex }
        var slot = (head + count) % capacity
        var copied = 0
        while copied < unitCount {
            let run = min(unitCount - copied, capacity - slot)
            storage.baseAddress!.advanced(by: slot * unitSize)
                .copyMemory(from: bytes.baseAddress!.advanced(by: copied * unitSize), byteCount: run * unitSize)
            copied += run
            slot = (slot + run) % capacity
        }
        count += unitCount
        acceptedUnits += UInt64(unitCount)
        nextExpectedIndex = firstIndex + UInt64(unitCount)
    }

    /// See ``KeySink/discard(link:units:)``.
    public func discard(link: LinkID, units: Range<UnitIndex>) throws(KeySinkError) {
        guard link == self.link else { throw .wrongLink(expected: self.link, got: link) }
        if let expected = nextExpectedIndex, expected != units.lowerBound {
            throw .notContiguous(expected: expected, got: units.lowerBound)
        }
        discardedUnits += UInt64(units.count)
        if count == 0 { firstHeldIndex = units.upperBound }
        nextExpectedIndex = units.upperBound
    }

    /// Copies up to `maxUnits` of the oldest units into `output` (which must hold
    /// `maxUnits × unitSize` bytes), removes them from the ring and wipes their slots.
    /// - Returns: the index of the first unit taken and how many were taken (0 when empty).
    public func take(upTo maxUnits: Int, into output: UnsafeMutableRawBufferPointer) -> (first: UnitIndex, count: Int) {
        let n = min(maxUnits, count, output.count / unitSize)
        let first = firstHeldIndex
        var copied = 0
        while copied < n {
            let run = min(n - copied, capacity - head)
            let slots = UnsafeMutableRawBufferPointer(
                rebasing: storage[(head * unitSize)..<((head + run) * unitSize)])
            output.baseAddress!.advanced(by: copied * unitSize).copyMemory(from: slots.baseAddress!, byteCount: slots.count)
            wipe(slots)
            copied += run
            head = (head + run) % capacity
        }
        count -= n
        firstHeldIndex += UInt64(n)
        return (first, n)
    }

    /// Removes up to `maxUnits` of the oldest units, wiping them. Returns how many were removed.
    @discardableResult
    public func drop(upTo maxUnits: Int) -> Int {
        let n = min(max(0, maxUnits), count)
        var dropped = 0
        while dropped < n {
            let run = min(n - dropped, capacity - head)
            wipe(UnsafeMutableRawBufferPointer(rebasing: storage[(head * unitSize)..<((head + run) * unitSize)]))
            dropped += run
            head = (head + run) % capacity
        }
        count -= n
        firstHeldIndex += UInt64(n)
        return n
    }
}
