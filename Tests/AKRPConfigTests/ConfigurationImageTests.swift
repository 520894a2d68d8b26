import AKRPConfig
import AKRPEngine
import Testing

@Suite struct ConfigurationImageTests {
    @Test(arguments: [Fixtures.fullExampleValue, Fixtures.unusual])
    func imageRoundTrips(_ c: NodeConfiguration) throws {
        let image = ConfigurationImage.encode(c)
        #expect(Array(image.prefix(8)) == ConfigurationImage.magic)
        let back = try ConfigurationImage.decode(image)
        #expect(back == c)
        #expect(ConfigurationImage.encode(back) == image)
    }

    @Test func textAndImageGiveTheSameValue() throws {
        let fromText = try ConfigurationText.parse(Fixtures.fullExample)
        let fromImage = try ConfigurationImage.decode(ConfigurationImage.encode(fromText))
        #expect(fromImage == fromText)
        #expect(try ConfigurationText.parse(ConfigurationText.render(fromImage)) == fromText)
    }

    @Test func headerLayout() {
        let image = ConfigurationImage.encode(Fixtures.fullExampleValue)
        #expect(image[8] == 1 && image[9] == 0)  // version 1
        #expect(image[10] == 0 && image[11] == 0)  // flags
        let length = Int(image[12]) | Int(image[13]) << 8 | Int(image[14]) << 16 | Int(image[15]) << 24
        #expect(length == image.count - ConfigurationImage.headerSize)
        #expect(Array(image[16..<48]) == ConfigurationImage.sha256(Array(image[0..<16]) + Array(image[48...])))
    }

    /// Changing any one byte of an image is refused, never trapping: the header fields by their own checks,
    /// everything else by the SHA-256.
    @Test(arguments: [UInt8(0x01), 0x80, 0xFF])
    func corruptionAtEveryBytePositionIsRefused(_ mask: UInt8) {
        let image = ConfigurationImage.encode(Fixtures.fullExampleValue)
        #expect(image.count < 1024)
        for position in image.indices {
            var damaged = image
            damaged[position] ^= mask
            #expect(throws: ConfigurationImageError.self, "byte \(position)") { try ConfigurationImage.decode(damaged) }
        }
    }

    @Test func corruptionGivesTheRightReason() {
        let image = ConfigurationImage.encode(Fixtures.fullExampleValue)
        func damaged(_ position: Int, _ value: UInt8) -> [UInt8] {
            var d = image
            d[position] = value
            return d
        }
        #expect(throws: ConfigurationImageError.badMagic) { try ConfigurationImage.decode(damaged(1, 0x42)) }
        #expect(throws: ConfigurationImageError.unsupportedVersion(2)) { try ConfigurationImage.decode(damaged(8, 2)) }
        #expect(throws: ConfigurationImageError.unsupportedFlags(0x100)) { try ConfigurationImage.decode(damaged(11, 1)) }
        #expect(throws: ConfigurationImageError.bodyTooLarge(declared: UInt32(image.count - 48) | 0x8000_0000)) {
            try ConfigurationImage.decode(damaged(15, 0x80))
        }
        #expect(throws: ConfigurationImageError.checksumMismatch) { try ConfigurationImage.decode(damaged(20, image[20] ^ 1)) }
        #expect(throws: ConfigurationImageError.checksumMismatch) { try ConfigurationImage.decode(damaged(100, image[100] ^ 1)) }
    }

    @Test func truncatedImagesAreRefused() {
        let image = ConfigurationImage.encode(Fixtures.fullExampleValue)
        for length in 0..<image.count {
            #expect(throws: ConfigurationImageError.self, "length \(length)") {
                try ConfigurationImage.decode(Array(image.prefix(length)))
            }
        }
        #expect(throws: ConfigurationImageError.truncatedHeader(bytes: 20)) { try ConfigurationImage.decode(Array(image.prefix(20))) }
        #expect(throws: ConfigurationImageError.truncatedBody(declared: image.count - 48, available: image.count - 49)) {
            try ConfigurationImage.decode(Array(image.dropLast()))
        }
        #expect(throws: ConfigurationImageError.trailingBytes(count: 1)) { try ConfigurationImage.decode(image + [0]) }
        #expect(throws: ConfigurationImageError.badMagic) { try ConfigurationImage.decode(Array("node = 2\n".utf8)) }
    }

    /// An image with a correct header and checksum around an arbitrary body, as a faulty or hostile
    /// encoder could make it.
    static func sealed(_ body: [UInt8]) -> [UInt8] {
        var header = ConfigurationImage.magic + [1, 0, 0, 0]
        let n = UInt32(body.count)
        header += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
        return header + ConfigurationImage.sha256(header + body) + body
    }

    /// Offset in the body of the topology's node count (after the fixed fields), for the example.
    static func body(of c: NodeConfiguration) -> [UInt8] { Array(ConfigurationImage.encode(c)[48...]) }

    /// `delivered-hold-ms` came after version 1: an optional section (tag 0x45), written only when the
    /// value is not the default, so that images of default configurations are the bytes they always were.
    @Test func deliveredHoldSection() throws {
        var c = Fixtures.fullExampleValue
        c.engine.deliveredHold = EngineConfiguration().deliveredHold
        let plain = Self.body(of: c)
        #expect(!plain.suffix(13).starts(with: [0x45]))
        c.engine.deliveredHold = 0
        let held = Self.body(of: c)
        // The default body plus tag, length 8, the u64.
        #expect(held.count == plain.count + 13)
        #expect(Array(held.suffix(13)) == [0x45, 8, 0, 0, 0] + [UInt8](repeating: 0, count: 8))
        #expect(try ConfigurationImage.decode(Self.sealed(held)).engine.deliveredHold == 0)
        // Without the section: the default.
        #expect(try ConfigurationImage.decode(Self.sealed(plain)).engine.deliveredHold == EngineConfiguration().deliveredHold)
        // Twice, or with a wrong length, or over 10 s: refused, naming the field.
        #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(Self.sealed(held + held.suffix(13))) }
        var short = held
        short[short.count - 12] = 7
        #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(Self.sealed(short)) }
        c.engine.deliveredHold = 10_000_000_001
        #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(ConfigurationImage.encode(c)) }
    }

    /// The full example with every optional engine setting at its default: its image has no optional
    /// engine section, so a test's own section is the last 13 bytes of the body.
    static var exampleWithoutOptionalSections: NodeConfiguration {
        var c = Fixtures.fullExampleValue
        let defaults = EngineConfiguration()
        c.engine.deliveredHold = defaults.deliveredHold
        c.engine.linkStateHold = defaults.linkStateHold
        c.engine.detourReserve = defaults.detourReserve
        c.engine.frameHold = defaults.frameHold
        return c
    }

    /// `link-state-hold-ms` has its own optional section (tag 0x4C) on the same terms; with both, each
    /// decodes to its own field, whatever their order.
    @Test func linkStateHoldSection() throws {
        var c = Self.exampleWithoutOptionalSections
        let plain = Self.body(of: c)
        c.engine.linkStateHold = 250_000_000
        let held = Self.body(of: c)
        #expect(held.count == plain.count + 13)
        let section: [UInt8] = [0x4C, 8, 0, 0, 0, 0x80, 0xB2, 0xE6, 0x0E, 0, 0, 0, 0]
        #expect(Array(held.suffix(13)) == section)
        let decoded = try ConfigurationImage.decode(Self.sealed(held)).engine
        #expect(decoded.linkStateHold == 250_000_000)
        #expect(decoded.deliveredHold == EngineConfiguration().deliveredHold)
        #expect(try ConfigurationImage.decode(Self.sealed(plain)).engine.linkStateHold == EngineConfiguration().linkStateHold)
        // Both sections, in the other order: each value to its own field.
        let delivered: [UInt8] = [0x45, 8, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        let both = try ConfigurationImage.decode(Self.sealed(plain + section + delivered)).engine
        #expect(both.linkStateHold == 250_000_000 && both.deliveredHold == 0)
        #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(Self.sealed(held + section)) }
        c.engine.linkStateHold = 10_000_000_001
        #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(ConfigurationImage.encode(c)) }
    }

    /// `detour-reserve` too: section 0x52, an f64, written only when not the default.
    @Test func detourReserveSection() throws {
        var c = Self.exampleWithoutOptionalSections
        let plain = Self.body(of: c)
        c.engine.detourReserve = 0.5
        let reserved = Self.body(of: c)
        #expect(Array(reserved.suffix(13)) == [0x52, 8, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0xE0, 0x3F])
        #expect(reserved.count == plain.count + 13)
        #expect(try ConfigurationImage.decode(Self.sealed(reserved)).engine.detourReserve == 0.5)
        #expect(try ConfigurationImage.decode(Self.sealed(plain)).engine.detourReserve == EngineConfiguration().detourReserve)
        // NaN or over 10 blocks: refused.
        var nan = reserved
        nan.replaceSubrange(nan.count - 8..<nan.count, with: [0, 0, 0, 0, 0, 0, 0xF8, 0x7F])
        #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(Self.sealed(nan)) }
        c.engine.detourReserve = 10.5
        #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(ConfigurationImage.encode(c)) }
    }

    /// `frame-hold-ms` too: section 0x46, a u64 of nanoseconds, written only when not the default.
    @Test func frameHoldSection() throws {
        var c = Self.exampleWithoutOptionalSections
        let plain = Self.body(of: c)
        c.engine.frameHold = 5_000_000
        let held = Self.body(of: c)
        #expect(held.count == plain.count + 13)
        #expect(Array(held.suffix(13)) == [0x46, 8, 0, 0, 0] + [0x40, 0x4B, 0x4C, 0, 0, 0, 0, 0])
        #expect(try ConfigurationImage.decode(Self.sealed(held)).engine.frameHold == 5_000_000)
        #expect(try ConfigurationImage.decode(Self.sealed(plain)).engine.frameHold == EngineConfiguration().frameHold)
        c.engine.frameHold = 0
        #expect(try ConfigurationImage.decode(Self.sealed(Self.body(of: c))).engine.frameHold == 0)
        c.engine.frameHold = 10_000_000_001
        #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(ConfigurationImage.encode(c)) }
    }

    @Test func sealedButMalformedBodiesAreRefused() {
        let body = Self.body(of: Fixtures.fullExampleValue)
        // Empty body.
        #expect(throws: ConfigurationImageError.malformedBody(offset: 0, field: "node", reason: "the body ends inside this field")) {
            try ConfigurationImage.decode(Self.sealed([]))
        }
        // Every strict prefix of the body, sealed, is refused without trapping.
        for length in 0..<body.count {
            #expect(throws: ConfigurationImageError.self) { try ConfigurationImage.decode(Self.sealed(Array(body.prefix(length)))) }
        }
        // A byte left over.
        #expect(throws: ConfigurationImageError.malformedBody(
            offset: body.count, field: "end", reason: "1 bytes left after the last field")) {
            try ConfigurationImage.decode(Self.sealed(body + [7]))
        }
        // A string length of 4 GiB: refused before allocating.
        var hugeString = body
        hugeString.replaceSubrange(4..<8, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: ConfigurationImageError.malformedBody(offset: 4, field: "listen", reason: "string of 4294967295 bytes exceeds 4096")) {
            try ConfigurationImage.decode(Self.sealed(hugeString))
        }
    }

    @Test func sealedButHostileCountsAreRefusedBeforeAllocating() throws {
        let c = Fixtures.fullExampleValue
        let body = Self.body(of: c)
        // The topology's node count follows the fixed fields; find it by encoding with the topology removed.
        var noTopology = c
        noTopology.topology = TopologyDescription(nodes: [], links: [])
        noTopology.neighbours = []
        // Three zero counts, then the key delivery trailer (no [key-delivery]: one 0 byte; no SAE: a zero count).
        let keyDeliveryTrailer = 1 + 4
        let prefix = Self.body(of: noTopology).count - 12 - keyDeliveryTrailer
        #expect(Array(body[prefix..<(prefix + 4)]) == [3, 0, 0, 0])
        var many = body
        many.replaceSubrange(prefix..<(prefix + 4), with: [0xFF, 0xFF, 0x00, 0x00])
        #expect(throws: ConfigurationImageError.malformedBody(
            offset: prefix, field: "topology nodes", reason: "count 65535 needs more bytes than the \(body.count - prefix - 4) left")) {
            try ConfigurationImage.decode(Self.sealed(many))
        }
        many.replaceSubrange(prefix..<(prefix + 4), with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: ConfigurationImageError.malformedBody(offset: prefix, field: "topology nodes", reason: "count 4294967295 exceeds 65535")) {
            try ConfigurationImage.decode(Self.sealed(many))
        }
    }

    @Test func sealedButInvalidFieldsAreRefused() {
        // A yes/no byte that is neither 0 nor 1.
        var c = Fixtures.fullExampleValue
        c.controlSocket = "/s"
        let body = Self.body(of: c)
        // node(4) host(4+7) port(2) socket(4+2) state(4+14) level(4+4) step(8) 11 engine fields of 8 bytes
        let adaptive = 4 + 11 + 2 + 6 + 18 + 8 + 8 + 11 * 8
        #expect(body[adaptive] == 0)
        var bad = body
        bad[adaptive] = 2
        #expect(throws: ConfigurationImageError.malformedBody(
            offset: adaptive, field: "adaptive-multipath", reason: "a yes/no byte must be 0 or 1, got 2")) {
            try ConfigurationImage.decode(Self.sealed(bad))
        }
        // Values go through the same validation as text.
        var small = c
        small.engine.unitSize = 16
        #expect(throws: ConfigurationImageError.invalid(
            .invalid(place: .engine, field: "unit-size", reason: "must be 32…4096 bytes, got 16"))) {
            try ConfigurationImage.decode(ConfigurationImage.encode(small))
        }
        var missing = c
        missing.neighbours.removeLast()
        #expect(throws: ConfigurationImageError.invalid(.missingNeighbour(node: NodeID(3), name: "gamma", link: 1))) {
            try ConfigurationImage.decode(ConfigurationImage.encode(missing))
        }
        var unknownSource = Self.body(of: c)
        // usb kind byte, serial length, "EMU00020003A", then the key delivery trailer (1 + 4 bytes).
        let kind = unknownSource.count - (1 + 4 + 12) - (1 + 4)
        #expect(unknownSource[kind] == 2)
        unknownSource[kind] = 9
        #expect(throws: ConfigurationImageError.malformedBody(
            offset: kind, field: "source", reason: "unknown source kind 9 (1 simulated, 2 usb, 3 trace)")) {
            try ConfigurationImage.decode(Self.sealed(unknownSource))
        }
    }

    @Test func invalidImageErrorsDescribeTheField() {
        var c = Fixtures.fullExampleValue
        c.neighbours[1].address.port = 0
        do {
            _ = try ConfigurationImage.decode(ConfigurationImage.encode(c))
            Issue.record("accepted port 0")
        } catch {
            #expect(error.description == "invalid configuration: [neighbour 3] field 'address': port must be 1…65535, got 0")
        }
    }

    @Test(arguments: [
        (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (3, "6ab0dba1f4f1dfbb37b4f9eeb092c09fca4900ad32bdcd147d8dde35d6c87c35"),
        (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
        (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
        (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
        (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
        (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
        (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
        (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
        (1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"),
    ])
    func sha256MatchesReferenceDigestsAcrossBlockBoundaries(length: Int, expected: String) {
        let message = (0..<length).map { UInt8(($0 * 7 + 3) % 256) }
        #expect(hex(ConfigurationImage.sha256(message)) == expected)
    }

    @Test func sha256OfAMillionAs() {
        #expect(hex(ConfigurationImage.sha256([UInt8](repeating: 0x61, count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}
