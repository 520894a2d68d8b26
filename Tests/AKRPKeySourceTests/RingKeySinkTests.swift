import AKRPEngine
import AKRPKeySource
import Testing

@Suite struct RingKeySinkTests {
    /// Wrap-around at every offset of a small ring: bytes come out in order and intact.
    @Test(arguments: 0..<5)
    func wrapsAround(offset: Int) throws {
        let sink = RingKeySink(link: testLink, unitSize: 4, capacity: 5)
        var next: UnitIndex = 100
        var scratch = [UInt8](repeating: 0, count: 20)
        func offer(_ n: Int) throws {
            let bytes = (0..<(n * 4)).map { UInt8(truncatingIfNeeded: Int(next) * 4 + $0) }
            try bytes.withUnsafeBytes {
                try sink.accept(link: testLink, firstIndex: next, unitCount: n, unitSize: 4, bytes: $0)
            }
            next += UInt64(n)
        }
        try offer(offset)
        _ = scratch.withUnsafeMutableBytes { sink.take(upTo: offset, into: $0) }
        try offer(5)
        #expect(sink.freeUnits == 0)
        let taken = scratch.withUnsafeMutableBytes { sink.take(upTo: 5, into: $0) }
        #expect(taken.first == 100 + UInt64(offset) && taken.count == 5)
        #expect(scratch == (0..<20).map { UInt8(truncatingIfNeeded: (100 + offset) * 4 + $0) })
    }

    @Test func refusesWhatDoesNotFit() throws {
        let sink = RingKeySink(link: testLink, unitSize: 2, capacity: 2)
        let bytes = [UInt8](repeating: 7, count: 6)
        #expect(throws: KeySinkError.noRoom(free: 2, requested: 3)) {
            try bytes.withUnsafeBytes { try sink.accept(link: testLink, firstIndex: 0, unitCount: 3, unitSize: 2, bytes: $0) }
        }
        #expect(throws: KeySinkError.lengthMismatch(expected: 2, got: 6)) {
            try bytes.withUnsafeBytes { try sink.accept(link: testLink, firstIndex: 0, unitCount: 1, unitSize: 2, bytes: $0) }
        }
        let other = LinkID(NodeID(1), NodeID(3))
        #expect(throws: KeySinkError.wrongLink(expected: testLink, got: other)) {
            try bytes.withUnsafeBytes { try sink.accept(link: other, firstIndex: 0, unitCount: 3, unitSize: 2, bytes: $0) }
        }
        try bytes.prefix(2).withUnsafeBytes {
            try sink.accept(link: testLink, firstIndex: 9, unitCount: 1, unitSize: 2, bytes: UnsafeRawBufferPointer($0))
        }
        #expect(throws: KeySinkError.notContiguous(expected: 10, got: 12)) {
            try bytes.prefix(2).withUnsafeBytes {
                try sink.accept(link: testLink, firstIndex: 12, unitCount: 1, unitSize: 2, bytes: UnsafeRawBufferPointer($0))
            }
        }
        try sink.discard(link: testLink, units: 10..<12)
        #expect(sink.nextExpectedIndex == 12 && sink.discardedUnits == 2)
    }
}
