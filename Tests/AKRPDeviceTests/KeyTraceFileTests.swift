import AKRPDevice
import AKRPEngine
import AKRPKeySource
import Foundation
import Testing

@Suite struct KeyTraceFileTests {
    @Test func loadsAndReplaysATraceFile() throws {
        var bytes: [UInt8] = []
        for (time, key) in [(UInt64(1_000), [UInt8](0..<40)), (UInt64(3_000), [UInt8](40..<64))] {
            withUnsafeBytes(of: time.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt16(key.count).littleEndian) { bytes += $0 }
            bytes += key
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(getpid()).bin").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let trace = try KeyTraceFile.load(path: path)
        #expect(trace.recordCount == 2 && trace.keyByteCount == 64)
        let link = LinkID(NodeID(1), NodeID(2))
        var sink = RingKeySink(link: link, unitSize: 32, capacity: 4)
        let source = try TraceReplaySource(trace: trace, link: link)
        #expect(try source.deliver(at: 0, into: &sink) == 1)
        #expect(try source.deliver(at: 2_000, into: &sink) == 1)
        // Truncated file: a typed error naming the offset, no trap.
        try Data(bytes.dropLast()).write(to: URL(fileURLWithPath: path))
        #expect(throws: KeyTraceFile.LoadError.malformed(path: path, .truncatedRecord(offset: 50))) {
            try KeyTraceFile.load(path: path)
        }
        #expect(throws: KeyTraceFile.LoadError.unreadable(path: "/nonexistent/trace", errno: ENOENT)) {
            try KeyTraceFile.load(path: "/nonexistent/trace")
        }
    }
}
