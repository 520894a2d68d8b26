import AKRPEngine
import AKRPKeySource
import Testing

@Suite struct TraceReplayTests {
    @Test func replaysUnitsAtRecordedTimes() throws {
        let records: [(UInt64, [UInt8])] = [
            (5_000, Array(0..<10)), (6_000, Array(10..<16)), (9_000, Array(16..<40)),
        ]
        for bigEndian in [false, true] {
            let bytes = traceBytes(records, bigEndian: bigEndian)
            let trace = try bytes.withUnsafeBytes {
                try KeyTrace(parsing: $0, byteOrder: bigEndian ? .bigEndian : .littleEndian)
            }
            #expect(trace.recordCount == 3 && trace.keyByteCount == 40 && trace.duration == 4_000)
            let source = try TraceReplaySource(trace: trace, link: testLink, unitSize: 8, start: 100, firstIndex: 7)
            var sink = RingKeySink(link: testLink, unitSize: 8, capacity: 10)
            #expect(try source.deliver(at: 99, into: &sink) == 0)
            #expect(try source.deliver(at: 100, into: &sink) == 1)  // 10 bytes: one unit
            #expect(source.nextReadyTime(after: 100) == 1_100)
            #expect(try source.deliver(at: 1_100, into: &sink) == 1)  // 16 bytes: two units
            #expect(try source.deliver(at: 4_100, into: &sink) == 3)  // 40 bytes: five units
            #expect(throws: KeySourceError.exhausted) { try source.deliver(at: 9_999, into: &sink) }
            let out = drain(sink)
            #expect(out.first == 7 && out.bytes == Array(0..<40))
        }
    }

    @Test(arguments: [
        ([UInt8](repeating: 0, count: 9), KeyTraceError.truncatedRecord(offset: 0)),
        (traceBytes([(1, [1, 2, 3])]).dropLast().map { $0 }, KeyTraceError.truncatedRecord(offset: 0)),
        (traceBytes([(1, [1]), (2, [2])]).dropLast().map { $0 }, KeyTraceError.truncatedRecord(offset: 11)),
        (traceBytes([(5, [1]), (4, [2])]), KeyTraceError.timestampWentBack(offset: 11)),
        (traceBytes([(5, [])]), KeyTraceError.empty),
        ([], KeyTraceError.empty),
    ])
    func rejectsMalformedTraces(bytes: [UInt8], error: KeyTraceError) {
        #expect(throws: error) { try bytes.withUnsafeBytes { _ = try KeyTrace(parsing: $0) } }
    }

    @Test func resumesAfterWhatTheSinkHolds() throws {
        let bytes = traceBytes([(0, Array(0..<32))])
        let trace = try bytes.withUnsafeBytes { try KeyTrace(parsing: $0) }
        let source = try TraceReplaySource(trace: trace, link: testLink, unitSize: 4)
        var sink = RingKeySink(link: testLink, unitSize: 4, capacity: 8)
        try [UInt8](repeating: 0, count: 12).withUnsafeBytes {
            try sink.accept(link: testLink, firstIndex: 0, unitCount: 3, unitSize: 4, bytes: $0)
        }
        sink.drop(upTo: 3)
        #expect(try source.deliver(at: 0, into: &sink) == 5)
        #expect(drain(sink).bytes == Array(12..<32))
    }
}
