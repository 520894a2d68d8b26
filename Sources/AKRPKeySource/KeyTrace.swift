public import AKRPEngine

/// Why a recorded key trace cannot be replayed.
public enum KeyTraceError: Error, Equatable, Sendable {
    /// The record starting at byte `offset` is cut short: the trace ends inside it.
    case truncatedRecord(offset: Int)
    /// The record at byte `offset` has a timestamp earlier than the record before it.
    case timestampWentBack(offset: Int)
    /// The trace holds no key bytes at all.
    case empty
    /// The trace has more records than this replayer accepts (`limit`).
    case tooManyRecords(limit: Int)
}

extension KeyTraceError: CustomStringConvertible {
    /// The problem in words, naming the byte offset or the limit.
    public var description: String {
        switch self {
        case .truncatedRecord(let offset): "record at byte \(offset) is truncated"
        case .timestampWentBack(let offset): "record at byte \(offset): timestamp goes back"
        case .empty: "the trace holds no key bytes"
        case .tooManyRecords(let limit): "more than \(limit) records"
        }
    }
}

/// Byte order of the integers in a trace file.
public enum TraceByteOrder: Sendable {
    /// Least significant byte first (the default).
    case littleEndian
    /// Most significant byte first.
    case bigEndian
}

/// A recorded QKD device trace in the public QKD-device dataset format, parsed and checked.
///
/// The format is a sequence of records, each: an 8-byte timestamp in nanoseconds, a 2-byte key
/// length `n` in bytes, then `n` key bytes. Timestamps never decrease. Parsing works on bytes only
/// (the file is read elsewhere); a malformed trace is a typed error, never a trap.
public final class KeyTrace {
    /// Upper bound on records, so that a hostile file cannot make the index huge.
    public static let maxRecords = 1 << 24

    /// Key bytes of all records, concatenated; wiped when the trace is released.
    let keyBytes: UnsafeMutableRawBufferPointer
    /// For each record: key bytes before its end (cumulative) and its time relative to the first.
    let marks: [(endByte: Int, time: Nanoseconds)]

    /// The number of records.
    public var recordCount: Int { marks.count }
    /// Total key bytes in the trace.
    public var keyByteCount: Int { keyBytes.count }
    /// Time between the first and last record, in ns.
    public var duration: Nanoseconds { marks.last?.time ?? 0 }

    /// Parses `bytes`.
    /// - Throws: ``KeyTraceError`` for a truncated record, a timestamp that goes back, too many
    ///   records, or a trace without key bytes.
    public init(parsing bytes: UnsafeRawBufferPointer, byteOrder: TraceByteOrder = .littleEndian) throws(KeyTraceError) {
        var marks: [(endByte: Int, time: Nanoseconds)] = []
        var end = 0
        // First pass: validate and size; no key byte is copied until the whole trace is valid.
        let total = try Self.scan(bytes, byteOrder: byteOrder) { time, _, length in
            end += length
            marks.append((end, time))
        }
        guard total > 0 else { throw .empty }
        let keyBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 16)
        var written = 0
        _ = try Self.scan(bytes, byteOrder: byteOrder) { _, keyOffset, length in
            keyBytes.baseAddress!.advanced(by: written)
                .copyMemory(from: bytes.baseAddress!.advanced(by: keyOffset), byteCount: length)
            written += length
        }
        self.keyBytes = keyBytes
        self.marks = marks
    }

    deinit {
        wipe(keyBytes)
        keyBytes.deallocate()
    }

    /// The record times (relative to the first record, ns) and key lengths (bytes) of the trace in
    /// `bytes`, checked exactly as ``init(parsing:byteOrder:)`` checks them, without copying any
    /// key byte: for users of the timing only (the network simulator's trace-driven links).
    /// - Throws: ``KeyTraceError`` as ``init(parsing:byteOrder:)`` does.
    public static func records(
        parsing bytes: UnsafeRawBufferPointer, byteOrder: TraceByteOrder = .littleEndian
    ) throws(KeyTraceError) -> (times: [Nanoseconds], lengths: [Int]) {
        var times: [Nanoseconds] = []
        var lengths: [Int] = []
        let total = try scan(bytes, byteOrder: byteOrder) { time, _, length in
            times.append(time)
            lengths.append(length)
        }
        guard total > 0 else { throw .empty }
        return (times, lengths)
    }

    /// Walks the records of `bytes` in order, checking the format as it goes; the package's only
    /// parser of the trace format. `record` receives each record's time relative to the first
    /// record, the byte offset of its key bytes in `bytes` and their count.
    /// - Returns: the total number of key bytes.
    /// - Throws: ``KeyTraceError`` for a truncated record, a timestamp that goes back or too many
    ///   records (not for an empty trace: callers decide).
    private static func scan(
        _ bytes: UnsafeRawBufferPointer, byteOrder: TraceByteOrder,
        record: (_ time: Nanoseconds, _ keyOffset: Int, _ length: Int) -> Void
    ) throws(KeyTraceError) -> Int {
        var offset = 0
        var total = 0
        var records = 0
        var first: UInt64?
        var previous: UInt64 = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 10 else { throw .truncatedRecord(offset: offset) }
            let rawTime = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            let rawLength = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt16.self)
            let time = byteOrder == .littleEndian ? UInt64(littleEndian: rawTime) : UInt64(bigEndian: rawTime)
            let length = Int(byteOrder == .littleEndian ? UInt16(littleEndian: rawLength) : UInt16(bigEndian: rawLength))
            guard bytes.count - offset - 10 >= length else { throw .truncatedRecord(offset: offset) }
            let start = first ?? time
            first = start
            guard time >= previous else { throw .timestampWentBack(offset: offset) }
            guard records < maxRecords else { throw .tooManyRecords(limit: maxRecords) }
            previous = time
            records += 1
            total += length
            record(time - start, offset + 10, length)
            offset += 10 + length
        }
        return total
    }

    /// How many whole units of `unitSize` bytes are complete `elapsed` ns after the first record.
    func completeUnits(unitSize: Int, at elapsed: Nanoseconds) -> Int {
        // Binary search for the last record with time <= elapsed.
        var low = 0
        var high = marks.count
        while low < high {
            let mid = (low + high) / 2
            if marks[mid].time <= elapsed { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? 0 : marks[low - 1].endByte / unitSize
    }

    /// The time (relative to the first record) at which unit `unit` is complete, or `nil` when
    /// the trace does not hold that many bytes.
    func completionTime(ofUnit unit: Int, unitSize: Int) -> Nanoseconds? {
        let needed = (unit + 1) * unitSize
        guard needed <= keyBytes.count else { return nil }
        var low = 0
        var high = marks.count - 1
        while low < high {
            let mid = (low + high) / 2
            if marks[mid].endByte >= needed { high = mid } else { low = mid + 1 }
        }
        return marks[low].time
    }
}

/// Replays a ``KeyTrace`` as a link's key stream, so that real device timing drives a link.
///
/// The trace's key bytes, in order, are cut into units of `unitSize` bytes (a trailing partial
/// unit is never delivered); unit `k` of the trace becomes stream index `firstIndex + k` and is
/// ready when the record completing it was recorded, shifted so that the first record falls at
/// `start`. Both ends of a link replaying the same trace deliver the same stream. Delivered
/// units are wiped from the replayer's copy; the trace can therefore be replayed only once.
public final class TraceReplaySource: KeySource {
    /// See ``KeySource/link``.
    public let link: LinkID
    /// See ``KeySource/unitSize``.
    public let unitSize: Int
    private let trace: KeyTrace
    private let start: Nanoseconds
    private let firstIndex: UnitIndex
    private var nextUnit = 0  // trace-relative unit to deliver next
    private let totalUnits: Int

    /// Why a replay cannot be set up.
    public enum ConfigurationError: Error, Equatable, Sendable {
        /// Unit size outside 1...4096 bytes.
        case unitSize(Int)
        /// The trace holds less than one unit.
        case traceShorterThanOneUnit
    }

    /// Replays `trace` for `link` in units of `unitSize` bytes, first record at `start`, first
    /// unit at stream index `firstIndex`.
    /// - Throws: ``ConfigurationError`` for a bad unit size or a trace shorter than one unit.
    public init(
        trace: KeyTrace, link: LinkID, unitSize: Int = 32, start: Nanoseconds = 0, firstIndex: UnitIndex = 0
    ) throws(ConfigurationError) {
        guard (1...4096).contains(unitSize) else { throw .unitSize(unitSize) }
        let totalUnits = trace.keyByteCount / unitSize
        guard totalUnits > 0 else { throw .traceShorterThanOneUnit }
        self.trace = trace
        self.link = link
        self.unitSize = unitSize
        self.start = start
        self.firstIndex = firstIndex
        self.totalUnits = totalUnits
    }

    /// Units not yet delivered.
    public var remainingUnits: Int { totalUnits - nextUnit }

    /// See ``KeySource/deliver(at:into:)``.
    /// - Throws: ``KeySourceError/exhausted`` once every unit of the trace has been delivered,
    ///   ``KeySourceError/sink(_:)`` when the sink refuses.
    public func deliver<Sink: KeySink & ~Copyable>(at now: Nanoseconds, into sink: inout Sink)
        throws(KeySourceError) -> Int
    {
        guard nextUnit < totalUnits else { throw .exhausted }
        let cursor = firstIndex + UInt64(nextUnit)
        let aligned = try alignSourceCursor(cursor, link: link, sink: &sink)
        if aligned > cursor {  // the sink already holds these units: skip, wiping them
            let skip = Int(min(aligned - cursor, UInt64(totalUnits - nextUnit)))
            wipe(unitBytes(nextUnit, count: skip))
            nextUnit += skip
        }
        guard now >= start else { return 0 }
        let ready = trace.completeUnits(unitSize: unitSize, at: now - start)
        let n = min(ready - nextUnit, sink.freeUnits, totalUnits - nextUnit)
        guard n > 0 else { return 0 }
        let bytes = unitBytes(nextUnit, count: n)
        do {
            try sink.accept(
                link: link, firstIndex: firstIndex + UInt64(nextUnit), unitCount: n, unitSize: unitSize,
                bytes: UnsafeRawBufferPointer(bytes))
        } catch { throw .sink(error) }
        wipe(bytes)
        nextUnit += n
        return n
    }

    /// See ``KeySource/nextReadyTime(after:)``: when the record completing the next unit was
    /// recorded (shifted to `start`), or `nil` when the trace is used up.
    public func nextReadyTime(after now: Nanoseconds) -> Nanoseconds? {
        guard nextUnit < totalUnits, let time = trace.completionTime(ofUnit: nextUnit, unitSize: unitSize) else {
            return nil
        }
        return max(start &+ time, now &+ 1)
    }

    private func unitBytes(_ unit: Int, count: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: trace.keyBytes[(unit * unitSize)..<((unit + count) * unitSize)])
    }
}
