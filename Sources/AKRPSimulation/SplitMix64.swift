/// A small, fast, deterministic pseudo-random generator (SplitMix64). Same seed, same sequence,
/// on every platform: the basis of replayable simulations.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's state (the sequence continues from it).
    public private(set) var state: UInt64
    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 pseudo-random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { p > 0 && unit() < p }
    /// An exponentially distributed value with the given mean.
    public mutating func exponential(mean: Double) -> Double {
        let u = max(unit(), 1e-300)
        return -mean * _log(u)
    }
}

/// Natural logarithm without Foundation (series on the mantissa, enough for simulation draws).
@inline(__always)
func _log(_ x: Double) -> Double {
    guard x > 0 else { return -.infinity }
    var e = 0
    var m = x
    while m >= 2 { m /= 2; e += 1 }
    while m < 1 { m *= 2; e -= 1 }
    // ln(m) for m in [1, 2) via atanh series: ln(m) = 2 atanh((m-1)/(m+1)).
    let t = (m - 1) / (m + 1)
    let t2 = t * t
    var term = t
    var sum = 0.0
    var k = 1.0
    while k < 40 {
        sum += term / k
        term *= t2
        k += 2
    }
    return 2 * sum + Double(e) * 0.693_147_180_559_945_3
}
