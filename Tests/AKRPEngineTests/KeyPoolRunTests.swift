import Testing
@testable import AKRPEngine

/// `KeyPool.consumeRun` (one wipe per stretch of the ring, one head advance) must leave a pool exactly as
/// consuming the same units one by one with `consume` does.
@Suite("Key pool run consumption")
struct KeyPoolRunTests {
    static let unitSize = 4

    /// A pool of 8 units whose window starts at 5, with units 5..<13 delivered (bytes = index-derived) and
    /// units `bound` bound to holder 1, `other` bound to holder 2.
    func pool(bound: [UInt64], other: [UInt64] = []) throws -> KeyPool {
        let p = KeyPool(capacity: 8, unitSize: Self.unitSize, ownershipBlock: 2, isLowEnd: true)
        p.skip(to: 5)
        let bytes = (0..<(8 * Self.unitSize)).map { UInt8(truncatingIfNeeded: 40 + $0 * 7) }
        try bytes.withUnsafeBytes { b in _ = try p.deliver(index: 5, bytes: b) }
        for u in bound { p.hold(u, holder: 1, as: .bound) }
        for u in other { p.hold(u, holder: 2, as: .bound) }
        return p
    }

    struct Snapshot: Equatable {
        var target: [UInt8]
        var states: [UnitState]
        var holders: [UInt32]
        var head, tail, consumed, discarded: UInt64
        var held, availableDelivered: Int
    }

    func snapshot(_ p: KeyPool, _ target: [UInt8]) -> Snapshot {
        let range: ClosedRange<UInt64> = 0...20
        return Snapshot(
            target: target, states: range.map { p.state($0) }, holders: range.map { p.holder($0) },
            head: p.head, tail: p.tail, consumed: p.consumedUnits, discarded: p.discardedUnits,
            held: p.heldUnits, availableDelivered: p.availableDelivered)
    }

    /// Consumes `count` units from `start` into a fresh target both ways and returns both pool states.
    func bothWays(bound: [UInt64], other: [UInt64] = [], start: UInt64, count: Int, checked: Bool)
        throws -> (run: Snapshot, units: Snapshot, runResult: Bool, unitResults: [Bool])
    {
        let a = try pool(bound: bound, other: other)
        var targetA = [UInt8](repeating: 0x5A, count: count * Self.unitSize)
        let runResult = targetA.withUnsafeMutableBytes { t in
            a.consumeRun(start: start, count: count, holder: 1, xorInto: t, at: 0, checked: checked)
        }
        let b = try pool(bound: bound, other: other)
        var targetB = [UInt8](repeating: 0x5A, count: count * Self.unitSize)
        let unitResults = targetB.withUnsafeMutableBytes { t in
            (0..<count).map { k in b.consume(start + UInt64(k), holder: 1, xorInto: t, at: k * Self.unitSize) }
        }
        return (snapshot(a, targetA), snapshot(b, targetB), runResult, unitResults)
    }

    @Test("a run crossing the ring's end: same key bytes, states, counters and head as unit by unit")
    func wrapping() throws {
        // Units 6..<12 sit in slots 6, 7, 0, 1, 2, 3: the run wraps.
        let r = try bothWays(bound: Array(6..<12), start: 6, count: 6, checked: true)
        #expect(r.run == r.units)
        #expect(r.runResult && r.unitResults.allSatisfy { $0 })
        #expect(r.run.target != [UInt8](repeating: 0x5A, count: 6 * Self.unitSize))
        #expect(r.run.consumed == 6 && r.run.held == 0)
    }

    @Test("a run from the head: the head advances over it once, as unit by unit")
    func fromHead() throws {
        let r = try bothWays(bound: Array(5..<9), start: 5, count: 4, checked: false)
        #expect(r.run == r.units)
        #expect(r.run.head == 9)
    }

    @Test("a run with a unit bound elsewhere, unchecked: falls back to unit by unit, same outcome")
    func fallback() throws {
        let r = try bothWays(bound: [7, 8, 10], other: [9], start: 7, count: 4, checked: false)
        #expect(r.run == r.units)
        #expect(!r.runResult && r.unitResults == [true, true, false, true])
        #expect(r.run.states[9] == .discarded)
    }
}
