/// Arithmetic in GF(2^64) = GF(2)[x] / (x^64 + x^4 + x^3 + x + 1), the second level of the recycled-key
/// frame MAC (docs/WIRE.md §4.6). The modulus is irreducible (the first pentanomial of degree 64 in the
/// published tables of low-weight irreducible polynomials; `GF64Tests` checks x^(2^64) = x and
/// x^(2^32) ≠ x with this multiplication).
///
/// Constant time: no branch and no memory access depends on the operands (masks instead of branches).
public enum GF64 {
    /// The product `a · b` in GF(2^64).
    @_noAllocation
    @inline(__always)
    public static func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        // Carry-less 64 × 64 → 128-bit product, one bit of b at a time.
        var low: UInt64 = a & (0 &- (b & 1))
        var high: UInt64 = 0
        var i: UInt64 = 1
        while i < 64 {
            let mask = 0 &- ((b &>> i) & 1)
            low ^= (a &<< i) & mask
            high ^= (a &>> (64 &- i)) & mask
            i &+= 1
        }
        // x^64 ≡ x^4 + x^3 + x + 1: fold the high half in twice (the second fold has at most 4 bits).
        low ^= high ^ (high &<< 1) ^ (high &<< 3) ^ (high &<< 4)
        let carry = (high &>> 63) ^ (high &>> 61) ^ (high &>> 60)
        low ^= carry ^ (carry &<< 1) ^ (carry &<< 3) ^ (carry &<< 4)
        return low
    }
}
