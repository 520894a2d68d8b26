import AKRPEngine

/// SHA-256 (FIPS 180-4) of a message of any length, for checksums of stored data (the relay box's
/// configuration image). Key streams use the allocation-free single-block form, ``SHA256Block``;
/// both share one compression function.
public enum SHA256 {
    /// Digest length in bytes.
    public static let digestSize = 32

    /// The 32-byte digest of `message`.
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        var state = SHA256Block.initialState
        var digest = [UInt8](repeating: 0, count: digestSize)
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            message.withUnsafeBytes { bytes in
                let fullBlocks = bytes.count / 64
                for b in 0..<fullBlocks {
                    SHA256Block.compress(
                        block: UnsafeRawBufferPointer(rebasing: bytes[(64 * b)..<(64 * b + 64)]), state: &state,
                        schedule: w)
                }
                // The tail, 0x80, zeros and the bit length: one block, or two when the tail is over 55 bytes.
                var tail = [UInt8](repeating: 0, count: 128)
                let rest = bytes.count - 64 * fullBlocks
                for i in 0..<rest { tail[i] = bytes[64 * fullBlocks + i] }
                tail[rest] = 0x80
                let tailLength = rest <= 55 ? 64 : 128
                let bitLength = UInt64(bytes.count) &* 8
                for i in 0..<8 { tail[tailLength - 1 - i] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i))) }
                tail.withUnsafeBytes { t in
                    for b in 0..<(tailLength / 64) {
                        SHA256Block.compress(
                            block: UnsafeRawBufferPointer(rebasing: t[(64 * b)..<(64 * b + 64)]), state: &state,
                            schedule: w)
                    }
                }
            }
        }
        withUnsafeBytes(of: state) { words in
            for i in 0..<8 {
                let word = words.load(fromByteOffset: 4 * i, as: UInt32.self)
                for j in 0..<4 { digest[4 * i + j] = UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32(j))) }
            }
        }
        return digest
    }
}

/// SHA-256 (FIPS 180-4) of one short message, for the seeded simulation key stream.
///
/// Hashes messages of at most 55 bytes (one block), which is all ``SeededKeyStream`` needs, without
/// allocating. ``SHA256`` hashes messages of any length.
struct SHA256Block {
    /// The eight working words of the hash state.
    typealias State = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    /// The initial hash value H(0).
    static let initialState: State = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )

    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// Hashes `message` (at most 55 bytes) and writes the 32-byte digest to `digest`.
    static func hash(_ message: UnsafeRawBufferPointer, into digest: UnsafeMutableRawBufferPointer) {
        precondition(message.count <= 55 && digest.count >= 32, "single-block SHA-256 only")
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            compress(message, schedule: w, into: digest)
            wipe(UnsafeMutableRawBufferPointer(w))
        }
    }

    private static func compress(
        _ message: UnsafeRawBufferPointer, schedule w: UnsafeMutableBufferPointer<UInt32>,
        into digest: UnsafeMutableRawBufferPointer
    ) {
        var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var state = initialState
        withUnsafeMutableBytes(of: &block) { bytes in
            bytes.copyMemory(from: message)
            bytes[message.count] = 0x80
            let bitLength = UInt64(message.count) * 8
            for i in 0..<8 { bytes[63 - i] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i))) }
            compress(block: UnsafeRawBufferPointer(bytes), state: &state, schedule: w)
        }
        withUnsafeBytes(of: state) { words in
            for i in 0..<8 {
                digest.storeBytes(
                    of: words.load(fromByteOffset: 4 * i, as: UInt32.self).bigEndian, toByteOffset: 4 * i,
                    as: UInt32.self)
            }
        }
    }

    /// Processes one 64-byte block into `state`.
    ///
    /// Written for debug builds too (the test suite runs the simulator on this stream unoptimised):
    /// masking shifts (`&>>`, `&<<`) instead of the generic smart shifts, raw pointers instead of
    /// checked subscripts, `while` loops — about ten times faster at `-Onone`, the same at `-O`.
    static func compress(
        block bytes: UnsafeRawBufferPointer, state: inout State, schedule: UnsafeMutableBufferPointer<UInt32>
    ) {
        let w = schedule.baseAddress!
        var i = 0
        while i < 16 {
            w[i] = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4 &* i, as: UInt32.self))
            i &+= 1
        }
        while i < 64 {
            let x = w[i &- 15]
            let y = w[i &- 2]
            let s0 = (x &>> 7 | x &<< 25) ^ (x &>> 18 | x &<< 14) ^ (x &>> 3)
            let s1 = (y &>> 17 | y &<< 15) ^ (y &>> 19 | y &<< 13) ^ (y &>> 10)
            w[i] = w[i &- 16] &+ s0 &+ w[i &- 7] &+ s1
            i &+= 1
        }
        var (a, b, c, d, e, f, g, h) = state
        roundConstants.withUnsafeBufferPointer { constants in
            let k = constants.baseAddress!
            var i = 0
            while i < 64 {
                let s1 = (e &>> 6 | e &<< 26) ^ (e &>> 11 | e &<< 21) ^ (e &>> 25 | e &<< 7)
                let t1 = h &+ s1 &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                let s0 = (a &>> 2 | a &<< 30) ^ (a &>> 13 | a &<< 19) ^ (a &>> 22 | a &<< 10)
                let t2 = s0 &+ ((a & b) ^ (a & c) ^ (b & c))
                h = g
                g = f
                f = e
                e = d &+ t1
                d = c
                c = b
                b = a
                a = t1 &+ t2
                i &+= 1
            }
        }
        state = (
            state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d,
            state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h
        )
    }
}
