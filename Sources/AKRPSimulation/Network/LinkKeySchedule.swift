import AKRPEngine

/// When key blocks arrive on one link and how many units each carries. Deterministic per
/// (seed, link): every protocol of a run sees exactly the same key arrivals.
struct LinkKeySchedule {
    private var rng: SplitMix64
    private let unitsPerNanosecond: Double
    private let mode: KeyDeliveryMode
    private let unitBytes: Int
    private var carry = 0.0
    private var time: Double = 0
    private var record = 0
    private var loopOffset: Double = 0
    private var started = false

    init(seed: UInt64, link: Int, rate: Double, unitBits: Int, mode: KeyDeliveryMode) {
        rng = SplitMix64(seed: seed ^ (UInt64(link) &* 0xD1B5_4A32_D192_ED03) ^ 0x6B65_79)
        unitsPerNanosecond = rate / Double(unitBits) / 1e9
        self.mode = mode
        unitBytes = unitBits / 8
    }

    /// The next block: its time and unit count (count may be 0 for tiny fluid steps).
    mutating func next() -> (time: Nanoseconds, units: Int) {
        switch mode {
        case .blocks(let mean, let jitter):
            let m = Double(mean)
            if !started {
                started = true
                // Random phase so that links do not deliver in lockstep.
                let first = rng.unit() * m
                time = first
                carry = unitsPerNanosecond * first
            } else {
                let p = m * (1 - jitter + 2 * jitter * rng.unit())
                time += p
                carry += unitsPerNanosecond * p
            }
        case .fluid(let period):
            time += Double(period)
            carry += unitsPerNanosecond * Double(period)
        case .trace(let schedule):
            if record == schedule.times.count {
                record = 0
                let last = Double(schedule.times.last ?? 0)
                let gap = schedule.times.count > 1 ? last / Double(schedule.times.count - 1) : 1e9
                loopOffset += last + gap
            }
            time = loopOffset + Double(schedule.times[record])
            carry += Double(schedule.lengths[record]) / Double(unitBytes)
            record += 1
        }
        let units = Int(carry)
        carry -= Double(units)
        return (Nanoseconds(time), units)
    }
}
