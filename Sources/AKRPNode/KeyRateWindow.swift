import AKRPEngine

/// The key rate a link's source delivered over a recent window: a fixed ring of (time, units delivered)
/// samples taken at least ``spacing`` apart, allocated once. The rate is the slope between the oldest and the
/// newest sample (at most ``capacity`` − 1 spacings, 10 s by default).
struct KeyRateWindow {
    /// Samples kept (the window spans up to `capacity - 1` spacings).
    static let capacity = 21
    /// Shortest time between two samples, nanoseconds.
    static let spacing: Nanoseconds = 500_000_000
    private var times = [Nanoseconds](repeating: 0, count: KeyRateWindow.capacity)
    private var units = [UInt64](repeating: 0, count: KeyRateWindow.capacity)
    private var newest = 0
    private var count = 0

    /// Records `delivered` (a monotonic count of units) at `now`, unless the last sample is younger than ``spacing``.
    mutating func sample(now: Nanoseconds, delivered: UInt64) {
        if count > 0 && now &- times[newest] < Self.spacing { return }
        newest = count == 0 ? 0 : (newest + 1) % Self.capacity
        times[newest] = now
        units[newest] = delivered
        count = min(count + 1, Self.capacity)
    }

    /// Bits per second between the oldest and the newest sample for `unitSize`-byte units; 0 with fewer than
    /// two samples.
    func bitsPerSecond(unitSize: Int) -> UInt64 {
        guard count >= 2 else { return 0 }
        let oldest = (newest + Self.capacity - count + 1) % Self.capacity
        let elapsed = times[newest] &- times[oldest]
        guard elapsed > 0, units[newest] >= units[oldest] else { return 0 }
        let bits = Double(units[newest] - units[oldest]) * Double(unitSize) * 8
        let rate = bits * 1e9 / Double(elapsed)
        return rate < Double(UInt64.max) ? UInt64(rate.rounded()) : UInt64.max
    }
}
