import AKRPManagement
import Testing

/// RFC 8949 appendix A: each example decoded, and re-encoded where this encoder's preferred form (shortest
/// integers, definite lengths, doubles for floats) is the example's form.
@Suite struct CBORVectorTests {
    struct Vector: Sendable, CustomStringConvertible {
        var value: CBORValue
        var hex: String
        var reencodes: Bool
        var description: String { hex }
    }

    static func v(_ value: CBORValue, _ hex: String, reencodes: Bool = true) -> Vector {
        Vector(value: value, hex: hex, reencodes: reencodes)
    }

    static let integers: [Vector] = [
        v(.unsigned(0), "00"), v(.unsigned(1), "01"), v(.unsigned(10), "0a"), v(.unsigned(23), "17"),
        v(.unsigned(24), "1818"), v(.unsigned(25), "1819"), v(.unsigned(100), "1864"), v(.unsigned(1000), "1903e8"),
        v(.unsigned(1_000_000), "1a000f4240"), v(.unsigned(1_000_000_000_000), "1b000000e8d4a51000"),
        v(.unsigned(.max), "1bffffffffffffffff"),
        v(.tagged(2, .bytes(hex("010000000000000000"))), "c249010000000000000000"),
        v(.negative(.max), "3bffffffffffffffff"),
        v(.tagged(3, .bytes(hex("010000000000000000"))), "c349010000000000000000"),
        v(.int(-1), "20"), v(.int(-10), "29"), v(.int(-100), "3863"), v(.int(-1000), "3903e7"),
    ]

    static let floats: [Vector] = [
        v(.float(0.0), "f90000", reencodes: false), v(.float(-0.0), "f98000", reencodes: false),
        v(.float(1.0), "f93c00", reencodes: false), v(.float(1.1), "fb3ff199999999999a"),
        v(.float(1.5), "f93e00", reencodes: false), v(.float(65504.0), "f97bff", reencodes: false),
        v(.float(100000.0), "fa47c35000", reencodes: false),
        v(.float(3.4028234663852886e+38), "fa7f7fffff", reencodes: false),
        v(.float(1.0e+300), "fb7e37e43c8800759c"), v(.float(5.960464477539063e-8), "f90001", reencodes: false),
        v(.float(0.00006103515625), "f90400", reencodes: false), v(.float(-4.0), "f9c400", reencodes: false),
        v(.float(-4.1), "fbc010666666666666"), v(.float(.infinity), "f97c00", reencodes: false),
        v(.float(.nan), "f97e00", reencodes: false), v(.float(-.infinity), "f9fc00", reencodes: false),
        v(.float(.infinity), "fa7f800000", reencodes: false), v(.float(-.infinity), "fbfff0000000000000", reencodes: false),
    ]

    static let simpleAndTagged: [Vector] = [
        v(.bool(false), "f4"), v(.bool(true), "f5"), v(.null, "f6"), v(.undefined, "f7"), v(.simple(16), "f0"),
        v(.simple(255), "f8ff"),
        v(.tagged(0, .text("2013-03-21T20:04:00Z")), "c074323031332d30332d32315432303a30343a30305a"),
        v(.tagged(1, .unsigned(1_363_896_240)), "c11a514b67b0"),
        v(.tagged(1, .float(1363896240.5)), "c1fb41d452d9ec200000"),
        v(.tagged(23, .bytes(hex("01020304"))), "d74401020304"),
        v(.tagged(24, .bytes(hex("6449455446"))), "d818456449455446"),
        v(.tagged(32, .text("http://www.example.com")), "d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
    ]

    static let strings: [Vector] = [
        v(.bytes([]), "40"), v(.bytes(hex("01020304")), "4401020304"), v(.text(""), "60"), v(.text("a"), "6161"),
        v(.text("IETF"), "6449455446"), v(.text("\"\\"), "62225c"), v(.text("\u{00fc}"), "62c3bc"),
        v(.text("\u{6c34}"), "63e6b0b4"), v(.text("\u{10151}"), "64f0908591"),
    ]

    static let one25: CBORValue = .array((1...25).map { .unsigned(UInt64($0)) })
    static let nested: CBORValue = .array([.unsigned(1), .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])])
    static let aToE: CBORValue = .object([("a", .text("A")), ("b", .text("B")), ("c", .text("C")), ("d", .text("D")), ("e", .text("E"))])

    static let containers: [Vector] = [
        v(.array([]), "80"), v(.array([.unsigned(1), .unsigned(2), .unsigned(3)]), "83010203"),
        v(nested, "8301820203820405"),
        v(one25, "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
        v(.map([]), "a0"), v(.map([(.unsigned(1), .unsigned(2)), (.unsigned(3), .unsigned(4))]), "a201020304"),
        v(.object([("a", .unsigned(1)), ("b", .array([.unsigned(2), .unsigned(3)]))]), "a26161016162820203"),
        v(.array([.text("a"), .object([("b", .text("c"))])]), "826161a161626163"),
        v(aToE, "a56161614161626142616361436164614461656145"),
        // Indefinite lengths: decoded to the same values, re-encoded with definite lengths.
        v(.bytes(hex("0102030405")), "5f42010243030405ff", reencodes: false),
        v(.text("streaming"), "7f657374726561646d696e67ff", reencodes: false),
        v(.array([]), "9fff", reencodes: false),
        v(nested, "9f018202039f0405ffff", reencodes: false), v(nested, "9f01820203820405ff", reencodes: false),
        v(nested, "83018202039f0405ff", reencodes: false), v(nested, "83019f0203ff820405", reencodes: false),
        v(one25, "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff", reencodes: false),
        v(.object([("a", .unsigned(1)), ("b", .array([.unsigned(2), .unsigned(3)]))]), "bf61610161629f0203ffff", reencodes: false),
        v(.array([.text("a"), .object([("b", .text("c"))])]), "826161bf61626163ff", reencodes: false),
        v(.object([("Fun", .bool(true)), ("Amt", .int(-2))]), "bf6346756ef563416d7421ff", reencodes: false),
    ]

    @Test(arguments: integers + floats + simpleAndTagged + strings + containers)
    func appendixA(_ vector: Vector) throws {
        let decoded = try CBORDecoder.decode(hex(vector.hex))
        #expect(decoded == vector.value)
        if vector.reencodes {
            #expect(hexString(try CBOREncoder.encode(vector.value)) == vector.hex)
        } else {
            // What this encoder writes decodes back to the same value.
            #expect(try CBORDecoder.decode(try CBOREncoder.encode(vector.value)) == vector.value)
        }
    }
}
