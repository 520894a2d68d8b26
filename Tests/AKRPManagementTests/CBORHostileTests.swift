import AKRPManagement
import Testing

/// Malformed and oversized CBOR: a typed error every time, never a trap, never a huge allocation.
@Suite struct CBORHostileTests {
    @Test func deepNestingIsRefusedBeforeRecursing() {
        let deep = [UInt8](repeating: 0x81, count: 100_000) + [0x00]
        #expect(throws: CBORError.tooDeep(offset: 15, limit: 16)) { try CBORDecoder.decode(deep) }
        let indefinite = [UInt8](repeating: 0x9F, count: 50_000)
        #expect(throws: CBORError.self) { try CBORDecoder.decode(indefinite) }
        let tags = [UInt8](repeating: 0xC6, count: 50_000) + [0x00]
        #expect(throws: CBORError.tooDeep(offset: 15, limit: 16)) { try CBORDecoder.decode(tags) }
        // Fifteen levels are fine.
        let fine = [UInt8](repeating: 0x81, count: 15) + [0x00]
        #expect((try? CBORDecoder.decode(fine)) != nil)
    }

    @Test(arguments: [
        "5bffffffffffffffff", "7bffffffffffffffff", "9bffffffffffffffff", "bbffffffffffffffff",
        "5a7fffffff00", "9a7fffffff", "ba00010000", "5f5bffffffffffffffffff",
    ])
    func hugeLengthsAreRefusedBeforeAllocating(_ input: String) {
        #expect(throws: CBORError.self) { try CBORDecoder.decode(hex(input)) }
    }

    @Test func stringLimitHolds() throws {
        let limits = CBORLimits(maximumDepth: 4, maximumItems: 16, maximumStringLength: 4)
        #expect(throws: CBORError.lengthTooLarge(offset: 0, length: 5)) {
            try CBORDecoder.decode(hex("450102030405"), limits: limits)
        }
        #expect(throws: CBORError.self) { try CBORDecoder.decode(hex("5f4301020343040506ff"), limits: limits) }
        #expect(try CBORDecoder.decode(hex("4401020304"), limits: limits) == .bytes([1, 2, 3, 4]))
    }

    @Test func itemLimitHolds() {
        let limits = CBORLimits(maximumDepth: 4, maximumItems: 3, maximumStringLength: 4)
        #expect(throws: CBORError.tooManyItems(offset: 3, limit: 3)) {
            try CBORDecoder.decode(hex("9f010203ff"), limits: limits)
        }
    }

    @Test(arguments: [
        ("", "truncated"), ("18", "truncated"), ("1a0000", "truncated"), ("62c3", "length"), ("82 01", "length"),
        ("a1 01", "length"), ("1c", "reserved"), ("3f", "reserved"), ("ff", "break"), ("62c328", "utf8"),
        ("5f 61 61 ff", "chunk"), ("5f 5f ff ff", "chunk"), ("f8 10", "simple"), ("01 02", "trailing"),
        ("9f 01", "truncated"), ("fc", "reserved"),
    ])
    func malformedInputIsATypedError(_ input: String, _ kind: String) {
        do {
            _ = try CBORDecoder.decode(hex(input))
            Issue.record("decoded malformed input \(input)")
        } catch {
            let text = "\(error)"
            switch kind {
            case "truncated": #expect(text.contains("ends inside"))
            case "reserved": #expect(text.contains("reserved"))
            case "break": #expect(text.contains("break"))
            case "utf8": #expect(text.contains("UTF-8"))
            case "chunk": #expect(text.contains("chunk"))
            case "simple": #expect(text.contains("simple"))
            case "length": #expect(text.contains("exceeds the limit"))
            default: #expect(text.contains("after the item"))
            }
        }
    }

    @Test func encoderOutputIsBounded() {
        #expect(throws: CBORError.outputFull(capacity: 10)) {
            try CBOREncoder.encode(.bytes([UInt8](repeating: 1, count: 20)), capacity: 10)
        }
    }

    @Test func randomBytesNeverTrap() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var decodedSome = 0
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 59)
            var bytes: [UInt8] = []
            for i in 0..<length {
                bytes.append(UInt8(truncatingIfNeeded: (state >> UInt64((i * 7) % 56)) &+ UInt64(i)))
            }
            if (try? CBORDecoder.decode(bytes)) != nil { decodedSome += 1 }
        }
        #expect(decodedSome > 0)
    }
}
