import Testing

@testable import AKRPNode

@Suite("Latency histogram: cumulative buckets at fixed bounds")
struct LatencyBucketTests {
    /// The exported cumulative count of `histogram` for `suffix` (e.g. `le_250us`).
    func bucket(_ histogram: LatencyHistogram, _ suffix: String) -> UInt64? {
        histogram.cumulativeBuckets.first { $0.0 == suffix }?.1
    }

    @Test("names: le_50us … le_2500000us then le_inf, 16 buckets")
    func names() {
        let names = LatencyHistogram().cumulativeBuckets.map(\.0)
        #expect(names.count == 16)
        #expect(names.first == "le_50us")
        #expect(names.contains("le_2500us") && names.contains("le_1000000us"))
        #expect(names.last == "le_inf")
    }

    @Test("a value on a bound counts in that bucket; one nanosecond more counts in the next", arguments: LatencyHistogram.bucketBounds)
    func boundaries(boundMicroseconds: UInt64) {
        var h = LatencyHistogram()
        let bound = boundMicroseconds * 1000
        h.record(bound - 1)
        h.record(bound)
        h.record(bound + 1)
        let index = LatencyHistogram.bucketBounds.firstIndex(of: boundMicroseconds)!
        #expect(bucket(h, "le_\(boundMicroseconds)us") == 2)
        if index > 0 {
            #expect(bucket(h, "le_\(LatencyHistogram.bucketBounds[index - 1])us") == 0)
        }
        let next = index + 1 < LatencyHistogram.bucketBounds.count ? "le_\(LatencyHistogram.bucketBounds[index + 1])us" : "le_inf"
        #expect(bucket(h, next) == 3)
        #expect(bucket(h, "le_inf") == h.total)
    }

    @Test("counts are cumulative and exact for a mixed sample")
    func cumulative() {
        var h = LatencyHistogram()
        // 0 ns, 50 µs, 50.001 µs, 999 µs, 1 ms, 3 s (above every bound)
        for v: UInt64 in [0, 50_000, 50_001, 999_000, 1_000_000, 3_000_000_000] { h.record(v) }
        #expect(bucket(h, "le_50us") == 2)
        #expect(bucket(h, "le_100us") == 3)
        #expect(bucket(h, "le_500us") == 3)
        #expect(bucket(h, "le_1000us") == 5)
        #expect(bucket(h, "le_2500000us") == 5)
        #expect(bucket(h, "le_inf") == 6)
        let counts = h.cumulativeBuckets.map(\.1)
        #expect(counts == counts.sorted(), "cumulative counts never decrease")
    }
}
