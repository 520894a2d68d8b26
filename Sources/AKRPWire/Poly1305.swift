/// Poly1305 (RFC 8439, section 2.5): the polynomial universal hash of the Wegman–Carter MAC.
///
/// The 32-byte key is `r ‖ s`: `r` (clamped) is the hash key, `s` is added to the hash value
/// modulo 2^128. In AKRP's Wegman–Carter use, `s` is a fresh one-time pad from link key for every
/// frame, and `r` is renewed from link key on the schedule of ``AuthenticationPolicy``.
///
/// Pure Swift, 26-bit limbs, no allocation, no table look-ups and no data-dependent branches.
public enum Poly1305 {
    /// Bytes of a key (`r ‖ s`).
    public static let keyLength = 32
    /// Bytes of a tag.
    public static let tagLength = 16

    /// Computes the tag of `message` under `key` into `tag`.
    /// - Throws: `.bufferTooSmall` when `key` is not 32 bytes or `tag` is smaller than 16 bytes.
    @_noAllocation
    public static func authenticate(
        _ message: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, tag: UnsafeMutableRawBufferPointer
    ) throws(WireError) {
        guard key.count == keyLength, let k = key.baseAddress else { throw .bufferTooSmall(needed: keyLength) }
        guard tag.count >= tagLength, let t = tag.baseAddress else { throw .bufferTooSmall(needed: tagLength) }
        compute(message, r: k, s: k + 16, tag: t)
    }

    @inline(__always)
    static func le32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The running state: the clamped hash key and the accumulator, in 26-bit limbs.
    struct State {
        let r0, r1, r2, r3, r4: UInt64
        let s1, s2, s3, s4: UInt64
        var h0: UInt32 = 0, h1: UInt32 = 0, h2: UInt32 = 0, h3: UInt32 = 0, h4: UInt32 = 0

        @inline(__always)
        init(r rKey: UnsafeRawPointer) {
            // Clamping (RFC 8439 2.5.1) folded into the limb split.
            r0 = UInt64(le32(rKey, 0) & 0x3ff_ffff)
            r1 = UInt64((le32(rKey, 3) >> 2) & 0x3ff_ff03)
            r2 = UInt64((le32(rKey, 6) >> 4) & 0x3ff_c0ff)
            r3 = UInt64((le32(rKey, 9) >> 6) & 0x3f0_3fff)
            r4 = UInt64((le32(rKey, 12) >> 8) & 0x00f_ffff)
            s1 = r1 &* 5
            s2 = r2 &* 5
            s3 = r3 &* 5
            s4 = r4 &* 5
        }

        /// h = (h + block) · r mod 2^130 - 5 (partially reduced); `hibit` is 2^128 in limb 4.
        @inline(__always)
        mutating func block(_ p: UnsafeRawPointer, hibit: UInt32) {
            let mask26: UInt32 = 0x3ff_ffff
            h0 &+= le32(p, 0) & mask26
            h1 &+= (le32(p, 3) >> 2) & mask26
            h2 &+= (le32(p, 6) >> 4) & mask26
            h3 &+= (le32(p, 9) >> 6) & mask26
            h4 &+= (le32(p, 12) >> 8) | hibit
            let a0 = UInt64(h0), a1 = UInt64(h1), a2 = UInt64(h2), a3 = UInt64(h3), a4 = UInt64(h4)
            let d0 = a0 &* r0 &+ a1 &* s4 &+ a2 &* s3 &+ a3 &* s2 &+ a4 &* s1
            var d1 = a0 &* r1 &+ a1 &* r0 &+ a2 &* s4 &+ a3 &* s3 &+ a4 &* s2
            var d2 = a0 &* r2 &+ a1 &* r1 &+ a2 &* r0 &+ a3 &* s4 &+ a4 &* s3
            var d3 = a0 &* r3 &+ a1 &* r2 &+ a2 &* r1 &+ a3 &* r0 &+ a4 &* s4
            var d4 = a0 &* r4 &+ a1 &* r3 &+ a2 &* r2 &+ a3 &* r1 &+ a4 &* r0
            var c = d0 >> 26
            h0 = UInt32(truncatingIfNeeded: d0) & mask26
            d1 &+= c
            c = d1 >> 26
            h1 = UInt32(truncatingIfNeeded: d1) & mask26
            d2 &+= c
            c = d2 >> 26
            h2 = UInt32(truncatingIfNeeded: d2) & mask26
            d3 &+= c
            c = d3 >> 26
            h3 = UInt32(truncatingIfNeeded: d3) & mask26
            d4 &+= c
            c = d4 >> 26
            h4 = UInt32(truncatingIfNeeded: d4) & mask26
            h0 &+= UInt32(truncatingIfNeeded: c) &* 5
            let c0 = h0 >> 26
            h0 &= mask26
            h1 &+= c0
        }

        /// Fully reduces h mod p (constant time), adds `s` mod 2^128 and writes the tag.
        @inline(__always)
        mutating func finish(s: UnsafeRawPointer, tag: UnsafeMutableRawPointer) {
            let mask26: UInt32 = 0x3ff_ffff
            var c = h1 >> 26
            h1 &= mask26
            h2 &+= c
            c = h2 >> 26
            h2 &= mask26
            h3 &+= c
            c = h3 >> 26
            h3 &= mask26
            h4 &+= c
            c = h4 >> 26
            h4 &= mask26
            h0 &+= c &* 5
            c = h0 >> 26
            h0 &= mask26
            h1 &+= c

            var g0 = h0 &+ 5
            c = g0 >> 26
            g0 &= mask26
            var g1 = h1 &+ c
            c = g1 >> 26
            g1 &= mask26
            var g2 = h2 &+ c
            c = g2 >> 26
            g2 &= mask26
            var g3 = h3 &+ c
            c = g3 >> 26
            g3 &= mask26
            var g4 = h4 &+ c &- (1 << 26)
            var select = (g4 >> 31) &- 1  // all ones when h >= p (g4 did not borrow)
            g0 &= select
            g1 &= select
            g2 &= select
            g3 &= select
            g4 &= select
            select = ~select
            h0 = (h0 & select) | g0
            h1 = (h1 & select) | g1
            h2 = (h2 & select) | g2
            h3 = (h3 & select) | g3
            h4 = (h4 & select) | g4

            let w0 = UInt64(h0 | (h1 << 26))
            let w1 = UInt64((h1 >> 6) | (h2 << 20))
            let w2 = UInt64((h2 >> 12) | (h3 << 14))
            let w3 = UInt64((h3 >> 18) | (h4 << 8))
            var f = w0 &+ UInt64(le32(s, 0))
            tag.storeBytes(of: UInt32(truncatingIfNeeded: f).littleEndian, toByteOffset: 0, as: UInt32.self)
            f = w1 &+ UInt64(le32(s, 4)) &+ (f >> 32)
            tag.storeBytes(of: UInt32(truncatingIfNeeded: f).littleEndian, toByteOffset: 4, as: UInt32.self)
            f = w2 &+ UInt64(le32(s, 8)) &+ (f >> 32)
            tag.storeBytes(of: UInt32(truncatingIfNeeded: f).littleEndian, toByteOffset: 8, as: UInt32.self)
            f = w3 &+ UInt64(le32(s, 12)) &+ (f >> 32)
            tag.storeBytes(of: UInt32(truncatingIfNeeded: f).littleEndian, toByteOffset: 12, as: UInt32.self)
            h0 = 0
            h1 = 0
            h2 = 0
            h3 = 0
            h4 = 0
        }
    }

    /// The core: `r` and `s` point at 16 bytes each, `tag` receives 16 bytes.
    @_noAllocation
    static func compute(
        _ message: UnsafeRawBufferPointer, r: UnsafeRawPointer, s: UnsafeRawPointer, tag: UnsafeMutableRawPointer
    ) {
        var state = State(r: r)
        let count = message.count
        if let base = message.baseAddress {
            var offset = 0
            while count - offset >= 16 {
                state.block(base + offset, hibit: 1 << 24)
                offset += 16
            }
            let rest = count - offset
            if rest > 0 {
                // The last partial block: padded with a 1 byte, then zeros, and no 2^128 bit.
                var last: (UInt64, UInt64) = (0, 0)
                withUnsafeMutableBytes(of: &last) { buffer in
                    let b = buffer.baseAddress!
                    b.copyMemory(from: base + offset, byteCount: rest)
                    b.storeBytes(of: 1, toByteOffset: rest, as: UInt8.self)
                    state.block(UnsafeRawPointer(b), hibit: 0)
                }
            }
        }
        state.finish(s: s, tag: tag)
    }

    /// Compares two 16-byte tags in constant time.
    @inline(__always)
    static func tagsEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
        let x = a.loadUnaligned(fromByteOffset: 0, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        let y = a.loadUnaligned(fromByteOffset: 8, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        return (x | y) == 0
    }
}
