import AKRPWire
import Testing

/// RFC 8439 Poly1305 test vectors: section 2.5.2 and Appendix A.3 (#1–#11).
struct Poly1305Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var key: String
        var message: String
        var tag: String
        var testDescription: String { name }
    }

    static let ietfText =
        "416e79207375626d697373696f6e20746f20746865204945544620696e74656e6465642062792074686520436f6e74"
        + "72696275746f7220666f72207075626c69636174696f6e20617320616c6c206f722070617274206f6620616e204945"
        + "544620496e7465726e65742d4472616674206f722052464320616e6420616e792073746174656d656e74206d616465"
        + "2077697468696e2074686520636f6e74657874206f6620616e204945544620616374697669747920697320636f6e73"
        + "69646572656420616e20224945544620436f6e747269627574696f6e222e20537563682073746174656d656e747320"
        + "696e636c756465206f72616c2073746174656d656e747320696e20494554462073657373696f6e732c206173207765"
        + "6c6c206173207772697474656e20616e6420656c656374726f6e696320636f6d6d756e69636174696f6e73206d6164"
        + "6520617420616e792074696d65206f7220706c6163652c207768696368206172652061646472657373656420746f"

    static let vectors: [Vector] = [
        Vector(
            name: "2.5.2", key: "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
            message: "43727970746f6772617068696320466f72756d2052657365617263682047726f7570",
            tag: "a8061dc1305136c6c22b8baf0c0127a9"),
        Vector(
            name: "A.3 #1", key: String(repeating: "0", count: 64), message: String(repeating: "0", count: 128),
            tag: String(repeating: "0", count: 32)),
        Vector(
            name: "A.3 #2", key: String(repeating: "0", count: 32) + "36e5f6b5c5e06070f0efca96227a863e",
            message: ietfText, tag: "36e5f6b5c5e06070f0efca96227a863e"),
        Vector(
            name: "A.3 #3", key: "36e5f6b5c5e06070f0efca96227a863e" + String(repeating: "0", count: 32),
            message: ietfText, tag: "f3477e7cd95417af89a6b8794c310cf0"),
        Vector(
            name: "A.3 #4", key: "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
            message: "2754776173206272696c6c69672c20616e642074686520736c6974687920746f7665730a446964206779726520616e"
                + "642067696d626c6520696e2074686520776162653a0a416c6c206d696d737920776572652074686520626f726f676f"
                + "7665732c0a416e6420746865206d6f6d65207261746873206f757467726162652e",
            tag: "4541669a7eaaee61e708dc7cbcc5eb62"),
        Vector(
            name: "A.3 #5", key: "02" + String(repeating: "0", count: 62), message: String(repeating: "f", count: 32),
            tag: "03" + String(repeating: "0", count: 30)),
        Vector(
            name: "A.3 #6", key: "02" + String(repeating: "0", count: 30) + String(repeating: "f", count: 32),
            message: "02" + String(repeating: "0", count: 30), tag: "03" + String(repeating: "0", count: 30)),
        Vector(
            name: "A.3 #7", key: "01" + String(repeating: "0", count: 62),
            message: String(repeating: "f", count: 32) + "f0" + String(repeating: "f", count: 30) + "11"
                + String(repeating: "0", count: 30),
            tag: "05" + String(repeating: "0", count: 30)),
        Vector(
            name: "A.3 #8", key: "01" + String(repeating: "0", count: 62),
            message: String(repeating: "f", count: 32) + "fb" + String(repeating: "fe", count: 15)
                + String(repeating: "01", count: 16),
            tag: String(repeating: "0", count: 32)),
        Vector(
            name: "A.3 #9", key: "02" + String(repeating: "0", count: 62),
            message: "fd" + String(repeating: "f", count: 30), tag: "fa" + String(repeating: "f", count: 30)),
        Vector(
            name: "A.3 #10", key: "0100000000000000040000000000000000000000000000000000000000000000",
            message: "e33594d7505e43b900000000000000003394d7505e4379cd010000000000000000000000000000000000000000000000"
                + "01000000000000000000000000000000",
            tag: "14000000000000005500000000000000"),
        Vector(
            name: "A.3 #11", key: "0100000000000000040000000000000000000000000000000000000000000000",
            message: "e33594d7505e43b900000000000000003394d7505e4379cd010000000000000000000000000000000000000000000000",
            tag: "13000000000000000000000000000000"),
    ]

    @Test(arguments: vectors)
    func rfc8439(_ v: Vector) throws {
        let key = bytes(hex: v.key)
        let message = bytes(hex: v.message)
        var tag = [UInt8](repeating: 0xAA, count: 16)
        try key.withUnsafeBytes { k in
            try message.withUnsafeBytes { m in
                try tag.withUnsafeMutableBytes { t in try Poly1305.authenticate(m, key: k, tag: t) }
            }
        }
        #expect(hex(tag) == v.tag)
    }

    @Test func ietfTextLength() {
        #expect(bytes(hex: Self.ietfText).count == 375)
    }

    @Test func wrongKeyLengthIsATypedError() {
        let key = [UInt8](repeating: 1, count: 31)
        var tag = [UInt8](repeating: 0, count: 16)
        #expect(throws: WireError.bufferTooSmall(needed: 32)) {
            try key.withUnsafeBytes { k in
                try tag.withUnsafeMutableBytes { t in try Poly1305.authenticate(UnsafeRawBufferPointer(start: nil, count: 0), key: k, tag: t) }
            }
        }
    }

    /// Every message length 0…80 (every partial-block shape) against a slow reference with big integers
    /// made of 32-bit words.
    @Test func matchesReferenceForEveryLength() throws {
        var g = SplitMix64(seed: 42)
        for length in 0...80 {
            let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
            let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &g) }
            var tag = [UInt8](repeating: 0, count: 16)
            try key.withUnsafeBytes { k in
                try message.withUnsafeBytes { m in
                    try tag.withUnsafeMutableBytes { t in try Poly1305.authenticate(m, key: k, tag: t) }
                }
            }
            #expect(tag == ReferencePoly1305.tag(key: key, message: message), "length \(length)")
        }
    }
}

/// Textbook Poly1305 over little-endian multi-word integers (slow, obviously correct).
enum ReferencePoly1305 {
    typealias Big = [UInt64]  // little-endian 32-bit words held in UInt64

    static func fromBytes(_ b: [UInt8]) -> Big {
        var words = Big(repeating: 0, count: (b.count + 3) / 4 + 1)
        for (i, byte) in b.enumerated() { words[i / 4] |= UInt64(byte) << (8 * UInt64(i % 4)) }
        return normalize(words)
    }
    static func normalize(_ a: Big) -> Big {
        var a = a
        while a.count > 1 && a.last == 0 { a.removeLast() }
        return a
    }
    static func add(_ a: Big, _ b: Big) -> Big {
        var out = Big(repeating: 0, count: max(a.count, b.count) + 1)
        var carry: UInt64 = 0
        for i in 0..<out.count {
            let s = (i < a.count ? a[i] : 0) + (i < b.count ? b[i] : 0) + carry
            out[i] = s & 0xffff_ffff
            carry = s >> 32
        }
        return normalize(out)
    }
    static func mul(_ a: Big, _ b: Big) -> Big {
        var out = Big(repeating: 0, count: a.count + b.count + 1)
        for i in 0..<a.count {
            var carry: UInt64 = 0
            for j in 0..<b.count {
                let t = out[i + j] + a[i] * b[j] + carry
                out[i + j] = t & 0xffff_ffff
                carry = t >> 32
            }
            var k = i + b.count
            while carry > 0 {
                let t = out[k] + carry
                out[k] = t & 0xffff_ffff
                carry = t >> 32
                k += 1
            }
        }
        return normalize(out)
    }
    static func compare(_ a: Big, _ b: Big) -> Int {
        let a = normalize(a), b = normalize(b)
        if a.count != b.count { return a.count < b.count ? -1 : 1 }
        for i in stride(from: a.count - 1, through: 0, by: -1) where a[i] != b[i] {
            return a[i] < b[i] ? -1 : 1
        }
        return 0
    }
    static func sub(_ a: Big, _ b: Big) -> Big {
        var out = a
        var borrow: Int64 = 0
        for i in 0..<out.count {
            var t = Int64(out[i]) - Int64(i < b.count ? b[i] : 0) - borrow
            borrow = t < 0 ? 1 : 0
            if t < 0 { t += 1 << 32 }
            out[i] = UInt64(t)
        }
        return normalize(out)
    }
    /// a mod p by repeated shifted subtraction.
    static func mod(_ a: Big, _ p: Big) -> Big {
        var a = a
        while compare(a, p) >= 0 {
            var shifted = p
            var next = shl1(shifted)
            while compare(next, a) <= 0 { shifted = next; next = shl1(shifted) }
            a = sub(a, shifted)
        }
        return a
    }
    static func shl1(_ a: Big) -> Big { add(a, a) }

    static func tag(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var rBytes = Array(key[0..<16])
        for i in [3, 7, 11, 15] { rBytes[i] &= 15 }
        for i in [4, 8, 12] { rBytes[i] &= 252 }
        let r = fromBytes(rBytes)
        let s = fromBytes(Array(key[16..<32]))
        var p = fromBytes([UInt8](repeating: 0xff, count: 16) + [3])
        p = sub(p, [4])  // 2^130 - 5
        var acc: Big = [0]
        var i = 0
        while i < message.count {
            let chunk = Array(message[i..<min(i + 16, message.count)]) + [1]
            acc = mod(mul(add(acc, fromBytes(chunk)), r), p)
            i += 16
        }
        acc = add(acc, s)
        var out = [UInt8](repeating: 0, count: 16)
        for j in 0..<16 { out[j] = j / 4 < acc.count ? UInt8((acc[j / 4] >> (8 * UInt64(j % 4))) & 0xff) : 0 }
        return out
    }
}
