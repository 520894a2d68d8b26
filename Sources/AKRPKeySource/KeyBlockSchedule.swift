import AKRPEngine

/// The block boundaries of a simulated QKD link that delivers its key in blocks: a function of
/// (seed, link, start, period, jitter) alone, so that two processes at the two ends of the link
/// compute the same boundaries without talking to each other, and of constant cost for any time
/// (a daemon may start years after the link's epoch: nothing loops over past blocks).
///
/// Boundary 0 is `start`. Boundary `k ≥ 1` is `start + k·period + offset(k)`, where `offset(k)`
/// is drawn from a hash of (seed, link, k) in `[−⌊s/2⌋, s − ⌊s/2⌋]` with `s = ⌊jitter·period⌋`
/// (at most `period − 1`). A block therefore lasts `period` on average and between
/// `period − s` and `period + s`; since `s < period`, boundaries strictly increase. Because the
/// offsets are independent per boundary, locating the boundary around a time needs at most three
/// evaluations.
struct KeyBlockSchedule: Sendable, Equatable {
    /// Boundary 0, ns.
    let start: Nanoseconds
    /// Mean block period, ns (> 0).
    let period: Nanoseconds
    /// Width of the offset range, ns (`⌊jitter·period⌋`, below `period`).
    let spread: UInt64
    /// Seed and link folded into one hash key.
    private let key: UInt64

    /// A schedule; the caller has checked `period > 0` and `jitter` in `0...0.9`.
    init(seed: UInt64, link: LinkID, start: Nanoseconds, period: Nanoseconds, jitter: Double) {
        self.start = start
        self.period = period
        let wanted = (jitter * Double(period)).rounded(.down)
        spread = wanted >= Double(period) ? period - 1 : min(UInt64(max(0, wanted)), period - 1)
        let linkWord = UInt64(link.low.rawValue) << 32 | UInt64(link.high.rawValue)
        // "block" in ASCII separates this hash from any other use of the same seed.
        key = Self.mix(seed ^ Self.mix(linkWord) ^ 0x62_6C_6F_63_6B)
    }

    /// The time of boundary `k`, or `nil` when it lies beyond `UInt64` ns.
    func boundary(_ k: UInt64) -> Nanoseconds? {
        guard k > 0 else { return start }
        let (span, spanOverflow) = k.multipliedReportingOverflow(by: period)
        let (base, baseOverflow) = start.addingReportingOverflow(span)
        guard !spanOverflow, !baseOverflow else { return nil }
        let draw = spread == 0 ? 0 : Self.mix(key &+ k &* 0xD1B5_4A32_D192_ED03) % (spread + 1)
        let below = spread / 2
        // base ≥ start + period > below, so the subtraction cannot wrap.
        if draw >= below {
            let (time, overflow) = base.addingReportingOverflow(draw - below)
            return overflow ? nil : time
        }
        return base - (below - draw)
    }

    /// The number of the last boundary at or before `now` (0 when `now` is before boundary 1,
    /// including before `start`).
    func lastBoundary(atOrBefore now: Nanoseconds) -> UInt64 {
        guard now > start else { return 0 }
        let k0 = (now - start) / period  // < UInt64.max: now − start < UInt64.max
        // boundary(k0 + 2) > now and boundary(k0 − 1) ≤ now (offsets are below period/2), so the
        // answer is one of k0 + 1, k0, k0 − 1.
        for k in stride(from: k0 + 1, through: k0 == 0 ? 0 : k0 - 1, by: -1) {
            if let time = boundary(k), time <= now { return k }
        }
        return 0
    }

    /// The number of the first boundary at or after `time`, or `nil` when it lies beyond
    /// `UInt64` ns.
    func firstBoundary(atOrAfter time: Nanoseconds) -> UInt64? {
        guard time > start else { return 0 }
        let elapsed = time - start
        let k0 = elapsed / period + (elapsed % period == 0 ? 0 : 1)  // ≥ 1
        // boundary(k0 − 2) < time and boundary(k0 + 1) ≥ time (offsets are below period/2), so the
        // answer is one of k0 − 1, k0, k0 + 1 (boundary 0 = start < time is never it).
        for k in stride(from: max(1, k0 - 1), through: k0 &+ 1, by: 1) {
            guard let boundaryTime = boundary(k) else { return nil }
            if boundaryTime >= time { return k }
        }
        return nil
    }

    /// SplitMix64's finaliser: a bijective 64-bit mix whose output bits all depend on every input bit.
    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
