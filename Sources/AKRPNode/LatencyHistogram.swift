import AKRPConfig

/// A fixed-size latency histogram (log-linear buckets: 16 per power of two, ≤ 6.25 % relative error),
/// allocated once; recording is a few integer operations. Values in nanoseconds.
///
/// Besides the log-linear buckets (for quantiles) it counts values exactly against fixed bounds
/// (``bucketBounds``, Prometheus-style `le` buckets): a value equal to a bound counts in that bound's bucket.
struct LatencyHistogram {
    private static let subBuckets = 16
    private var counts = [UInt64](repeating: 0, count: 64 * LatencyHistogram.subBuckets)
    /// The upper bounds of the exported buckets, microseconds: 50 µs … 2.5 s; a last bucket (+Inf) takes the rest.
    static let bucketBounds: [UInt64] = [
        50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    ]
    /// Values per fixed bucket (not cumulative): index i counts values in (bound[i-1], bound[i]]; the last counts
    /// values above every bound.
    private var boundCounts = [UInt64](repeating: 0, count: LatencyHistogram.bucketBounds.count + 1)
    private(set) var total: UInt64 = 0
    private(set) var maximum: UInt64 = 0

    private static func bucket(_ v: UInt64) -> Int {
        guard v >= UInt64(subBuckets) else { return Int(v) }
        let power = 63 - v.leadingZeroBitCount  // ≥ 4
        let shift = power - 4
        let sub = Int((v >> UInt64(shift)) & 0xF)
        return (power - 3) * subBuckets + sub
    }

    /// The smallest value of a bucket's range, as reported (an under-estimate by at most one bucket width).
    private static func value(of bucket: Int) -> UInt64 {
        guard bucket >= subBuckets else { return UInt64(bucket) }
        let power = bucket / subBuckets + 3
        let sub = UInt64(bucket % subBuckets)
        return (16 | sub) << UInt64(power - 4)
    }

    mutating func record(_ nanoseconds: UInt64) {
        counts[Self.bucket(nanoseconds)] += 1
        var i = 0
        while i < Self.bucketBounds.count && nanoseconds > Self.bucketBounds[i] &* 1000 { i += 1 }
        boundCounts[i] += 1
        total += 1
        if nanoseconds > maximum { maximum = nanoseconds }
    }

    /// The value at quantile `q` (0…1), nanoseconds; 0 when empty.
    func quantile(_ q: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = UInt64((q * Double(total)).rounded(.up))
        if rank >= total { return maximum }
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= max(rank, 1) { return min(Self.value(of: i), maximum) }
        }
        return maximum
    }

    /// `count`, p50, p90, p99, p99.9 and max in microseconds, for the state dump.
    var summary: JSONValue {
        func us(_ ns: UInt64) -> JSONValue { .real(Double(ns) / 1000) }
        return .object([
            ("count", .unsigned(total)), ("p50_us", us(quantile(0.5))), ("p90_us", us(quantile(0.9))),
            ("p99_us", us(quantile(0.99))), ("p999_us", us(quantile(0.999))), ("max_us", us(maximum)),
        ])
    }

    /// Cumulative counts at the fixed bounds, Prometheus style: `(name suffix, values ≤ bound)`, suffixes
    /// `le_50us` … `le_2500000us`, then `le_inf` (= ``total``).
    var cumulativeBuckets: [(String, UInt64)] {
        var out: [(String, UInt64)] = []
        out.reserveCapacity(boundCounts.count)
        var running: UInt64 = 0
        for (i, c) in boundCounts.enumerated() {
            running += c
            out.append((i < Self.bucketBounds.count ? "le_\(Self.bucketBounds[i])us" : "le_inf", running))
        }
        return out
    }
}
