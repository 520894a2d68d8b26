import AKRPEngine
import AKRPKeySource
import Testing

/// Block delivery of ``SimulatedDevicePair`` as two relay daemons use it: each creates its own pair
/// from the shared parameters (epoch = Unix time in ns) and must see the same link.
@Suite struct SimulatedBlockTests {
    /// 2023-11-14 22:13:20 UTC in ns: a link epoch as a daemon's configuration would give it.
    static let epoch: Nanoseconds = 1_700_000_000_000_000_000
    /// About thirty years in ns.
    static let decades: Nanoseconds = 30 * 365 * 86_400 * 1_000_000_000

    static func pair(
        seed: UInt64 = 99, period: Nanoseconds = 100_000_000, jitter: Double = 0.5, rate: UInt64 = 1_000_000
    ) throws -> SimulatedDevicePair {
        try SimulatedDevicePair(
            link: testLink, seed: seed, unitSize: 32, bitsPerSecond: rate, start: epoch, blockPeriod: period,
            jitter: jitter)
    }

    /// Times from the epoch to decades after it, irregularly spaced.
    static var probeTimes: [Nanoseconds] {
        var times: [Nanoseconds] = [epoch, epoch + 1, epoch + 99_999_999, epoch + 100_000_000, epoch + 1_234_567_891]
        var x: UInt64 = 0x1234_5678
        for _ in 0..<200 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            times.append(epoch + x % decades)
        }
        return times
    }

    @Test func independentPairsAgreeOnBlocksAndBytesAtAnyTime() throws {
        let a = try Self.pair()
        let b = try Self.pair()
        for now in Self.probeTimes {
            #expect(a.blocksDelivered(at: now) == b.blocksDelivered(at: now))
            #expect(a.producedUnits(at: now) == b.producedUnits(at: now))
            let k = a.blocksDelivered(at: now)
            #expect(a.blockBoundary(k) == b.blockBoundary(k))
            #expect(a.blockBoundary(k + 1) == b.blockBoundary(k + 1))
            #expect(a.nextReadyTime(now) == b.nextReadyTime(now))
        }
        // Bytes decades after the epoch: both ends, from pairs made apart, deliver the same units.
        let late = Self.epoch + Self.decades - 12_345
        let endA = a.end(at: NodeID(1))
        let endB = b.end(at: NodeID(2))
        var sinkA = RingKeySink(link: testLink, unitSize: 32, capacity: 512)
        var sinkB = RingKeySink(link: testLink, unitSize: 32, capacity: 512)
        #expect(try endA.deliver(at: late, into: &sinkA) == 512)
        #expect(try endB.deliver(at: late, into: &sinkB) == 512)
        let fromA = drain(sinkA)
        let fromB = drain(sinkB)
        #expect(fromA.first == fromB.first && fromA.bytes == fromB.bytes)
        // The device kept the newest 2^20 units of what the last block made ready.
        #expect(fromA.first == a.producedUnits(at: late) - (1 << 20))
        var expected = [UInt8](repeating: 0, count: 512 * 32)
        expected.withUnsafeMutableBytes { a.stream.fill(firstIndex: fromA.first, unitCount: 512, unitSize: 32, into: $0) }
        #expect(fromA.bytes == expected)
    }

    /// The boundaries are a fixed function of the parameters: a change here would make daemons of
    /// two builds disagree about their shared link.
    @Test func boundariesAreStableAcrossBuilds() throws {
        let a = try Self.pair()
        #expect(a.blockBoundary(0) == Self.epoch)
        #expect(a.blockBoundary(1) == 1_700_000_000_117_423_745)
        #expect(a.blockBoundary(2) == 1_700_000_000_218_159_482)
        #expect(a.blockBoundary(9_467_280_000) == 2_646_727_999_997_600_376)
    }

    @Test(arguments: [
        (UInt64(100_000_000), 0.5), (UInt64(100_000_000), 0.9), (UInt64(1), 0.9), (UInt64(2), 0.9),
        (UInt64(3), 0.9), (UInt64(10), 0.9), (UInt64(7_000_000_000), 0.25), (UInt64(100_000_000), 0.0),
    ])
    func boundariesStrictlyIncreaseAroundTheLattice(period: UInt64, jitter: Double) throws {
        let pair = try Self.pair(period: period, jitter: jitter)
        let spread = UInt64((jitter * Double(period)).rounded(.down))
        // The last boundary before UInt64 ns runs out, for long periods.
        let far = min(9_000_000_000, (UInt64.max - Self.epoch) / period - 3_000)
        for first in [UInt64(0), 1_000_000, far] {
            var previous = try #require(pair.blockBoundary(first))
            var lengths = Set<UInt64>()
            for k in (first + 1)...(first + 2_000) {
                let boundary = try #require(pair.blockBoundary(k))
                #expect(boundary > previous, "boundary \(k) after boundary \(k - 1)")
                let lattice = Self.epoch + k * period
                let distance = boundary > lattice ? boundary - lattice : lattice - boundary
                #expect(distance <= spread / 2 + 1)
                lengths.insert(boundary - previous)
                // The block around a time is found without walking from the epoch.
                #expect(pair.blocksDelivered(at: boundary) == k)
                #expect(pair.blocksDelivered(at: boundary - 1) == k - 1)
                previous = boundary
            }
            #expect(jitter == 0 || lengths.count > min(100, Int(spread)), "periods vary with jitter")
            #expect(jitter > 0 || lengths == [period])
        }
    }

    @Test func meanPeriodIsThePeriod() throws {
        let pair = try Self.pair(period: 50_000_000, jitter: 0.9)
        let blocks: UInt64 = 100_000
        let span = try #require(pair.blockBoundary(blocks)) - Self.epoch
        // Only the last boundary's offset (at most ±0.45 period) separates the mean from the period.
        #expect(span >= blocks * 50_000_000 - 22_500_000 && span <= blocks * 50_000_000 + 22_500_000)
    }

    @Test func aBlockCarriesTheUnitsProducedDuringItsPeriod() throws {
        let blocks = try Self.pair()
        let continuous = try SimulatedDevicePair(
            link: testLink, seed: 99, unitSize: 32, bitsPerSecond: 1_000_000, start: Self.epoch)
        #expect(blocks.producedUnits(at: Self.epoch - 1) == 0)
        for now in Self.probeTimes {
            let k = blocks.blocksDelivered(at: now)
            let last = try #require(blocks.blockBoundary(k))
            let next = try #require(blocks.blockBoundary(k + 1))
            #expect(last <= now && now < next)
            // Units become ready at boundaries, all those produced up to the boundary.
            #expect(blocks.producedUnits(at: now) == continuous.producedUnits(at: last))
            #expect(blocks.producedUnits(at: next - 1) == continuous.producedUnits(at: last))
            #expect(blocks.producedUnits(at: next) == continuous.producedUnits(at: next))
            // The next unit is ready at the next boundary that carries any unit.
            let index = blocks.producedUnits(at: now)
            let ready = try #require(blocks.productionTime(of: index))
            #expect(ready >= next)
            #expect(blocks.producedUnits(at: ready) > index)
            #expect(blocks.producedUnits(at: ready - 1) <= index)
            #expect(blocks.blockBoundary(blocks.blocksDelivered(at: ready)) == ready)
        }
    }

    @Test func theDeviceDeliversWholeBlocksAndSaysWhenTheNextComes() throws {
        let pair = try Self.pair(rate: 256_000)  // 1000 units/s: about 100 per block
        let device = pair.end(at: NodeID(1))
        var sink = RingKeySink(link: testLink, unitSize: 32, capacity: 100_000)
        let b1 = try #require(pair.blockBoundary(1))
        let b2 = try #require(pair.blockBoundary(2))
        #expect(try device.deliver(at: b1 - 1, into: &sink) == 0)
        #expect(device.nextReadyTime(after: b1 - 1) == b1)
        let first = try device.deliver(at: b1, into: &sink)
        #expect(first == Int(pair.producedUnits(at: b1)) && first > 0)
        #expect(try device.deliver(at: b2 - 1, into: &sink) == 0)
        #expect(device.nextReadyTime(after: b1) == b2)
        #expect(try device.deliver(at: b2, into: &sink) == Int(pair.producedUnits(at: b2)) - first)
    }

    @Test func continuousModeHasNoBlocks() throws {
        let pair = try SimulatedDevicePair(link: testLink, seed: 1, bitsPerSecond: 256_000, start: 1_000)
        #expect(pair.blockPeriod == 0 && pair.blockBoundary(1) == nil && pair.blocksDelivered(at: 5_000_000_000) == 0)
        #expect(pair.producedUnits(at: 1_000 + 1_500_000) == 1)
        #expect(pair.productionTime(of: 1) == 1_000 + 2_000_000)
    }

    @Test func rejectsJitterOutOfRange() {
        for jitter in [-0.1, 0.91, 1.0, Double.infinity] {
            #expect(throws: SimulatedDevicePair.ConfigurationError.jitter(jitter)) {
                try SimulatedDevicePair(link: testLink, seed: 1, bitsPerSecond: 1, blockPeriod: 1_000, jitter: jitter)
            }
        }
        #expect(throws: SimulatedDevicePair.ConfigurationError.self) {
            try SimulatedDevicePair(link: testLink, seed: 1, bitsPerSecond: 1, blockPeriod: 1_000, jitter: .nan)
        }
        // Jitter without blocks means nothing: refused rather than ignored.
        #expect(throws: SimulatedDevicePair.ConfigurationError.jitter(0.5)) {
            try SimulatedDevicePair(link: testLink, seed: 1, bitsPerSecond: 1, jitter: 0.5)
        }
        #expect(throws: Never.self) {
            try SimulatedDevicePair(link: testLink, seed: 1, bitsPerSecond: 1, blockPeriod: 1_000, jitter: 0.9)
        }
    }
}

extension SimulatedDevicePair {
    /// When the next unit after those ready at `now` becomes ready.
    fileprivate func nextReadyTime(_ now: Nanoseconds) -> Nanoseconds? { productionTime(of: producedUnits(at: now)) }
}
