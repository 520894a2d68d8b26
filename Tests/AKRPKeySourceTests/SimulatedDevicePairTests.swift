import AKRPEngine
import AKRPKeySource
import Testing

@Suite struct SimulatedDevicePairTests {
    @Test func bothEndsDeliverTheSameStreamAtTheRate() throws {
        // 32-byte units at 256 kbit/s: 1000 units per second.
        let pair = try SimulatedDevicePair(link: testLink, seed: 42, bitsPerSecond: 256_000, start: 1_000)
        let a = pair.end(at: NodeID(1))
        let b = pair.end(at: NodeID(2))
        var sinkA = RingKeySink(link: testLink, unitSize: 32, capacity: 10_000)
        var sinkB = RingKeySink(link: testLink, unitSize: 32, capacity: 10_000)
        #expect(try a.deliver(at: 1_000 + 500_000_000, into: &sinkA) == 500)
        #expect(try a.deliver(at: 1_000 + 2_000_000_000, into: &sinkA) == 1500)
        #expect(try b.deliver(at: 1_000 + 2_000_000_000, into: &sinkB) == 2000)
        #expect(a.nextReadyTime(after: 1_000 + 2_000_000_000) == 1_000 + 2_001_000_000)
        let fromA = drain(sinkA)
        let fromB = drain(sinkB)
        #expect(fromA.first == 0 && fromA.bytes.count == 64_000)
        #expect(fromA.bytes == fromB.bytes)
        var expected = [UInt8](repeating: 0, count: 64_000)
        expected.withUnsafeMutableBytes { pair.stream.fill(firstIndex: 0, unitCount: 2000, unitSize: 32, into: $0) }
        #expect(fromA.bytes == expected)
    }

    @Test func backpressureNeverOverfillsAndLostUnitsAreDiscarded() throws {
        let pair = try SimulatedDevicePair(
            link: testLink, seed: 1, bitsPerSecond: 256_000, deviceBufferUnits: 100)
        let device = pair.end(at: NodeID(1))
        var sink = RingKeySink(link: testLink, unitSize: 32, capacity: 50)
        // 1000 units produced, the device kept the newest 100, the sink has room for 50.
        #expect(try device.deliver(at: 1_000_000_000, into: &sink) == 50)
        #expect(sink.firstHeldIndex == 900 && sink.freeUnits == 0)
        #expect(try device.deliver(at: 1_000_000_000, into: &sink) == 0)
        sink.drop(upTo: 50)
        // A second later the device holds [1900, 2000): units [950, 1900) were lost while the
        // sink was full, and are announced as discarded before delivery resumes.
        #expect(try device.deliver(at: 2_000_000_000, into: &sink) == 50)
        #expect(sink.discardedUnits == 950)
        #expect(sink.firstHeldIndex == 1900)
    }

    @Test func rejectsBadConfiguration() {
        #expect(throws: SimulatedDevicePair.ConfigurationError.zeroRate) {
            try SimulatedDevicePair(link: testLink, seed: 1, bitsPerSecond: 0)
        }
        #expect(throws: SimulatedDevicePair.ConfigurationError.unitSize(0)) {
            try SimulatedDevicePair(link: testLink, seed: 1, unitSize: 0, bitsPerSecond: 1)
        }
    }
}
