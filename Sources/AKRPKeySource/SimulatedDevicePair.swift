public import AKRPEngine

/// A simulated QKD link: two devices that produce one seeded key stream at a fixed rate.
///
/// Both ends (``end(at:maxUnitsPerDelivery:)``) deliver the same bytes for the same unit index, so
/// the network simulator, tests and relay daemons can run links without hardware. Production is a
/// pure function of time and of the parameters alone: two processes — e.g. the `akrpd` at each end
/// of a link, whose engine time is Unix time in nanoseconds — that create a pair with the same
/// parameters (`start` = the link's shared epoch in ns) run the same link without talking to each
/// other, whenever each of them starts.
///
/// - Continuous (`blockPeriod == 0`): unit `i` exists from
///   `start + (i + 1) × unitSize × 8 / bitsPerSecond` seconds on.
/// - Blocks (`blockPeriod > 0`): key arrives in blocks, at boundaries `start + k·blockPeriod`
///   moved by up to ±`jitter`/2 of a period each, deterministically from the seed and link (so
///   a period lasts `blockPeriod·(1 ± jitter)` at most, `blockPeriod` on average, and boundaries
///   strictly increase). At boundary `k` the units produced at the rate up to that boundary become
///   ready: a block carries the units produced during its period. Locating the block around any
///   time costs O(1), however long after `start` it is.
///
/// Like a real device, each end keeps only the newest `deviceBufferUnits` undelivered units;
/// older ones are lost and announced to the sink as discarded.
public struct SimulatedDevicePair: Sendable {
    /// The link both ends serve.
    public let link: LinkID
    /// The shared stream definition.
    public let stream: SeededKeyStream
    /// Bytes per unit.
    public let unitSize: Int
    /// Secret key rate in bits per second (> 0).
    public let bitsPerSecond: UInt64
    /// When the link came up (engine time, ns): the shared epoch of both ends.
    public let start: Nanoseconds
    /// How many produced-but-undelivered units a device keeps before it loses the oldest.
    public let deviceBufferUnits: UInt64
    /// Mean time between key blocks, ns; 0 = continuous production.
    public let blockPeriod: Nanoseconds
    /// How much block boundaries vary, as a fraction of ``blockPeriod`` (0…0.9).
    public let jitter: Double
    /// The block boundaries, or `nil` for continuous production.
    let blocks: KeyBlockSchedule?

    /// Why a simulated pair cannot be made.
    public enum ConfigurationError: Error, Equatable, Sendable {
        /// Unit size outside 1...4096 bytes.
        case unitSize(Int)
        /// A zero key rate.
        case zeroRate
        /// A zero device buffer.
        case zeroBuffer
        /// A block jitter outside 0...0.9 (or not a number), or a non-zero jitter without blocks.
        case jitter(Double)
    }

    /// Creates a simulated link.
    /// - Parameters:
    ///   - seed: the seed both ends share (key bytes and block boundaries derive from it).
    ///   - start: the link's epoch, engine time in ns (in the daemon: Unix time in ns).
    ///   - blockPeriod: mean time between key blocks, ns; 0 (the default) for continuous key.
    ///   - jitter: variation of the block boundaries, a fraction of the period in 0...0.9.
    /// - Throws: ``ConfigurationError`` for an out-of-range unit size, rate, buffer or jitter.
    public init(
        link: LinkID, seed: UInt64, unitSize: Int = 32, bitsPerSecond: UInt64, start: Nanoseconds = 0,
        deviceBufferUnits: UInt64 = 1 << 20, blockPeriod: Nanoseconds = 0, jitter: Double = 0
    ) throws(ConfigurationError) {
        guard (1...4096).contains(unitSize) else { throw .unitSize(unitSize) }
        guard bitsPerSecond > 0 else { throw .zeroRate }
        guard deviceBufferUnits > 0 else { throw .zeroBuffer }
        guard jitter >= 0, jitter <= 0.9, blockPeriod > 0 || jitter == 0 else { throw .jitter(jitter) }
        self.link = link
        self.stream = SeededKeyStream(seed: seed, link: link)
        self.unitSize = unitSize
        self.bitsPerSecond = bitsPerSecond
        self.start = start
        self.deviceBufferUnits = deviceBufferUnits
        self.blockPeriod = blockPeriod
        self.jitter = jitter
        blocks =
            blockPeriod > 0
            ? KeyBlockSchedule(seed: seed, link: link, start: start, period: blockPeriod, jitter: jitter) : nil
    }

    /// The device at `node`'s end of the link (either end gives the same stream).
    public func end(at node: NodeID, maxUnitsPerDelivery: Int = 4096) -> SimulatedDevice {
        SimulatedDevice(pair: self, node: node, maxUnitsPerDelivery: maxUnitsPerDelivery)
    }

    /// Units ready by time `now`: indices `0 ..< producedUnits(at: now)`. With blocks, the units
    /// produced up to the last block boundary at or before `now`.
    public func producedUnits(at now: Nanoseconds) -> UInt64 {
        guard let blocks else { return unitsProduced(by: now) }
        let k = blocks.lastBoundary(atOrBefore: now)
        guard k > 0, let boundary = blocks.boundary(k) else { return 0 }
        return unitsProduced(by: boundary)
    }

    /// The time at which unit `index` becomes ready (with blocks: the boundary of the block that
    /// carries it), or `nil` if that lies beyond `UInt64` ns.
    public func productionTime(of index: UnitIndex) -> Nanoseconds? {
        guard let produced = timeProduced(index) else { return nil }
        guard let blocks else { return produced }
        return blocks.firstBoundary(atOrAfter: produced).flatMap { blocks.boundary($0) }
    }

    /// The time of block boundary `k` (the end of block `k`, when its units become ready; boundary
    /// 0 is ``start``), or `nil` for continuous production or beyond `UInt64` ns.
    public func blockBoundary(_ k: UInt64) -> Nanoseconds? {
        blocks?.boundary(k)
    }

    /// The number of blocks delivered by `now`: the last boundary at or before `now` (0 before
    /// the first boundary and for continuous production).
    public func blocksDelivered(at now: Nanoseconds) -> UInt64 {
        blocks?.lastBoundary(atOrBefore: now) ?? 0
    }

    /// Units produced at the rate by `time` (continuously, ignoring blocks).
    private func unitsProduced(by time: Nanoseconds) -> UInt64 {
        guard time > start else { return 0 }
        let denominator = 8_000_000_000 * UInt64(unitSize)
        let product = (time - start).multipliedFullWidth(by: bitsPerSecond)
        guard product.high < denominator else { return .max }
        return denominator.dividingFullWidth(product).quotient
    }

    /// The time at which the rate has produced unit `index` (continuously, ignoring blocks).
    private func timeProduced(_ index: UnitIndex) -> Nanoseconds? {
        let denominator = 8_000_000_000 * UInt64(unitSize)
        let (count, overflow) = index.addingReportingOverflow(1)
        guard !overflow else { return nil }
        let product = count.multipliedFullWidth(by: denominator)
        guard product.high < bitsPerSecond else { return nil }
        let (quotient, remainder) = bitsPerSecond.dividingFullWidth(product)
        let elapsed = quotient + (remainder > 0 ? 1 : 0)
        let (time, late) = start.addingReportingOverflow(elapsed)
        return late ? nil : time
    }
}

/// One end of a ``SimulatedDevicePair``: a ``KeySource`` that is a pure function of time.
public final class SimulatedDevice: KeySource {
    /// The pair this end belongs to.
    public let pair: SimulatedDevicePair
    /// The node this device is attached to.
    public let node: NodeID
    private var cursor: UnitIndex = 0
    private let scratch: UnsafeMutableRawBufferPointer
    private let scratchUnits: Int

    init(pair: SimulatedDevicePair, node: NodeID, maxUnitsPerDelivery: Int) {
        self.pair = pair
        self.node = node
        scratchUnits = max(1, maxUnitsPerDelivery)
        scratch = .allocate(byteCount: scratchUnits * pair.unitSize, alignment: 16)
        scratch.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        wipe(scratch)
        scratch.deallocate()
    }

    /// See ``KeySource/link``.
    public var link: LinkID { pair.link }
    /// See ``KeySource/unitSize``.
    public var unitSize: Int { pair.unitSize }

    /// See ``KeySource/deliver(at:into:)``. Units the device buffer lost are discarded first.
    public func deliver<Sink: KeySink & ~Copyable>(at now: Nanoseconds, into sink: inout Sink)
        throws(KeySourceError) -> Int
    {
        let produced = pair.producedUnits(at: now)
        let oldestKept = produced > pair.deviceBufferUnits ? produced - pair.deviceBufferUnits : 0
        cursor = try alignSourceCursor(max(cursor, oldestKept), link: pair.link, sink: &sink)
        var delivered = 0
        while cursor < produced, sink.freeUnits > 0 {
            let n = Int(min(UInt64(min(sink.freeUnits, scratchUnits)), produced - cursor))
            let bytes = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<(n * pair.unitSize)])
            pair.stream.fill(firstIndex: cursor, unitCount: n, unitSize: pair.unitSize, into: bytes)
            defer { wipe(bytes) }
            do {
                try sink.accept(
                    link: pair.link, firstIndex: cursor, unitCount: n, unitSize: pair.unitSize,
                    bytes: UnsafeRawBufferPointer(bytes))
            } catch { throw .sink(error) }
            cursor += UInt64(n)
            delivered += n
        }
        return delivered
    }

    /// See ``KeySource/nextReadyTime(after:)``: when the next undelivered unit is produced.
    public func nextReadyTime(after now: Nanoseconds) -> Nanoseconds? {
        guard let time = pair.productionTime(of: max(cursor, pair.producedUnits(at: now))) else { return nil }
        return max(time, now &+ 1)
    }
}
