/// A contiguous range of key units: `count` units starting at `start`.
public struct UnitRun: Hashable, Sendable {
    /// The first unit.
    public var start: UnitIndex
    /// Number of units.
    public var count: UInt32
    /// `count` units from `start`.
    public init(start: UnitIndex, count: UInt32) {
        self.start = start
        self.count = count
    }
    /// One past the last unit.
    public var end: UnitIndex { start &+ UnitIndex(count) }
}

/// The units a request holds on one link, as at most ``UnitRuns/capacity`` runs stored inline.
///
/// Runs are kept in ascending, non-overlapping order; adjacent runs are merged on insert.
public struct UnitRuns: Hashable, Sendable, CustomStringConvertible {
    /// Maximum number of runs (fragments) one request may hold on one link.
    public static let capacity = 8
    /// The runs; only the first ``runCount`` are meaningful.
    public private(set) var runs: InlineArray<8, UnitRun>
    /// Number of runs held.
    public private(set) var runCount: UInt8

    /// No units.
    public init() {
        // A copy of an empty list built once: cheaper than building the inline array every time.
        self = UnitRuns.none
    }

    private static let none = UnitRuns(emptyList: ())

    private init(emptyList: Void) {
        runs = InlineArray(repeating: UnitRun(start: 0, count: 0))
        runCount = 0
    }

    /// Total number of units.
    public var unitCount: Int {
        var n = 0
        var i = 0
        while i < Int(runCount) { n += Int(runs[i].count); i += 1 }
        return n
    }
    /// Whether no unit is held.
    public var isEmpty: Bool { runCount == 0 }
    /// Run `i` (0 ..< ``runCount``).
    public subscript(i: Int) -> UnitRun { runs[i] }

    /// Appends one unit; it must be larger than every unit already held (callers allocate in index order).
    /// - Throws: `.fragmented` when a new run would exceed ``capacity``; `.unordered` when `index` is not
    ///   past the last unit.
    public mutating func append(_ index: UnitIndex) throws(UnitRunsError) {
        if runCount > 0 {
            let last = runs[Int(runCount) - 1]
            guard index >= last.end else { throw .unordered }
            if index == last.end && last.count < UInt32.max {
                runs[Int(runCount) - 1].count += 1
                return
            }
        }
        guard Int(runCount) < Self.capacity else { throw .fragmented }
        runs[Int(runCount)] = UnitRun(start: index, count: 1)
        runCount += 1
    }

    /// Appends a whole run (used by decoders). Same rules as ``append(_:)``; empty runs are rejected.
    public mutating func append(run: UnitRun) throws(UnitRunsError) {
        guard run.count > 0, run.end > run.start else { throw .invalidRun }
        if runCount > 0 {
            let last = runs[Int(runCount) - 1]
            guard run.start >= last.end else { throw .unordered }
            if run.start == last.end, UInt64(last.count) + UInt64(run.count) <= UInt64(UInt32.max) {
                runs[Int(runCount) - 1].count += run.count
                return
            }
        }
        guard Int(runCount) < Self.capacity else { throw .fragmented }
        runs[Int(runCount)] = run
        runCount += 1
    }

    /// Whether `index` is one of the units.
    public func contains(_ index: UnitIndex) -> Bool {
        var i = 0
        while i < Int(runCount) {
            if index >= runs[i].start && index < runs[i].end { return true }
            i += 1
        }
        return false
    }

    /// Calls `body` for every unit in ascending order.
    @inline(__always)
    public func forEach(_ body: (UnitIndex) throws(UnitRunsError) -> Void) throws(UnitRunsError) {
        var i = 0
        while i < Int(runCount) {
            var u = runs[i].start
            while u < runs[i].end { try body(u); u += 1 }
            i += 1
        }
    }

    /// The `k`-th unit (0-based) in ascending order, or nil.
    public func unit(at k: Int) -> UnitIndex? {
        var rest = k
        var i = 0
        while i < Int(runCount) {
            if rest < Int(runs[i].count) { return runs[i].start + UnitIndex(rest) }
            rest -= Int(runs[i].count)
            i += 1
        }
        return nil
    }

    /// Largest unit index held, or nil when empty.
    public var last: UnitIndex? { runCount == 0 ? nil : runs[Int(runCount) - 1].end - 1 }

    /// Equal when the meaningful runs are equal.
    public static func == (a: UnitRuns, b: UnitRuns) -> Bool {
        guard a.runCount == b.runCount else { return false }
        var i = 0
        while i < Int(a.runCount) {
            if a.runs[i] != b.runs[i] { return false }
            i += 1
        }
        return true
    }
    /// Hashes the meaningful runs only.
    public func hash(into h: inout Hasher) {
        var i = 0
        while i < Int(runCount) { h.combine(runs[i]); i += 1 }
    }
    /// The runs as `[start+count, …]`.
    public var description: String {
        var s = "["
        var i = 0
        while i < Int(runCount) {
            if i > 0 { s += "," }
            s += runs[i].count == 1 ? "\(runs[i].start)" : "\(runs[i].start)+\(runs[i].count)"
            i += 1
        }
        return s + "]"
    }
}

/// Why a unit list could not be built.
public enum UnitRunsError: Error, Sendable, Equatable {
    case fragmented, unordered, invalidRun
}
