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
        // Carry-less 64 × 64 → 128-bit product by Karatsuba over 32-bit halves (three 32 × 32 products).
        let low = carrylessMultiply(UInt32(truncatingIfNeeded: a), UInt32(truncatingIfNeeded: b))
        let highProduct = carrylessMultiply(UInt32(truncatingIfNeeded: a &>> 32), UInt32(truncatingIfNeeded: b &>> 32))
        let middle =
            carrylessMultiply(UInt32(truncatingIfNeeded: a ^ (a &>> 32)), UInt32(truncatingIfNeeded: b ^ (b &>> 32)))
            ^ low ^ highProduct
        var productLow = low ^ (middle &<< 32)
        let high = highProduct ^ (middle &>> 32)
        // x^64 ≡ x^4 + x^3 + x + 1: fold the high half in twice (the second fold has at most 4 bits).
        productLow ^= high ^ (high &<< 1) ^ (high &<< 3) ^ (high &<< 4)
        let carry = (high &>> 63) ^ (high &>> 61) ^ (high &>> 60)
        productLow ^= carry ^ (carry &<< 1) ^ (carry &<< 3) ^ (carry &<< 4)
        return productLow
    }

    /// The carry-less product of two 32-bit polynomials, by integer multiplication with holes: each
    /// operand is split into four parts whose bits are four positions apart, so that in the integer product
    /// of two parts every result position gathers at most 8 one-bits — a count below 16 that never carries
    /// into the next position the part can reach; that position's low bit is the carry-less (XOR) sum.
    /// Integer multiplication takes constant time on the targets, so this is constant time too.
    @_noAllocation
    @inline(__always)
    static func carrylessMultiply(_ x: UInt32, _ y: UInt32) -> UInt64 {
        let m0: UInt64 = 0x1111_1111_1111_1111
        let m1 = m0 &<< 1
        let m2 = m0 &<< 2
        let m3 = m0 &<< 3
        let (a, b) = (UInt64(x), UInt64(y))
        let (a0, a1, a2, a3) = (a & m0, a & m1, a & m2, a & m3)
        let (b0, b1, b2, b3) = (b & m0, b & m1, b & m2, b & m3)
        // Parts i and j meet at positions ≡ i + j (mod 4).
        let z0 = (a0 &* b0) ^ (a1 &* b3) ^ (a2 &* b2) ^ (a3 &* b1)
        let z1 = (a0 &* b1) ^ (a1 &* b0) ^ (a2 &* b3) ^ (a3 &* b2)
        let z2 = (a0 &* b2) ^ (a1 &* b1) ^ (a2 &* b0) ^ (a3 &* b3)
        let z3 = (a0 &* b3) ^ (a1 &* b2) ^ (a2 &* b1) ^ (a3 &* b0)
        return (z0 & m0) | (z1 & m1) | (z2 & m2) | (z3 & m3)
    }
}
