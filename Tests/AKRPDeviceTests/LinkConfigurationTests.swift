import AKRPDevice
import AKRPEngine
import Testing

@Suite struct LinkConfigurationTests {
    let sample = """
        # lab link
        link = 7-3
        local-node = 3
        unit-size = 32
        frame-units = 256   # per frame
        min-key-rate = 1_000_000
        qber-alarm = 0.05
        label = "lab \\"A\\""
        """

    @Test func parsesTheDocumentedFormat() throws {
        let config = try LinkConfiguration(parsing: sample)
        #expect(config.link == LinkID(NodeID(3), NodeID(7)))
        #expect(config.localNode == NodeID(3) && config.peerNode == NodeID(7))
        #expect(config.minKeyRate == 1_000_000 && config.qberAlarmPPM == 50_000)
        #expect(config.label == "lab \"A\"")
        #expect(try LinkConfiguration(parsing: config.text) == config)
        #expect(try LinkConfiguration(blob: config.blob) == config)
        #expect(config.blob.count == 96)
    }

    @Test(arguments: [
        ("link = 3-7\n", LinkConfigurationError.missingField(field: "local-node")),
        ("link = 3-3\nlocal-node = 3\n", .invalidValue(field: "link", line: 1, reason: "expected two different non-zero node IDs, e.g. 3-7")),
        ("link = 3-7\nlocal-node = 4\n", .invalidValue(field: "local-node", line: 2, reason: "must be one end of the link")),
        ("link = 3-7\nlocal-node = 3\nunit-size = 0\n", .invalidValue(field: "unit-size", line: 3, reason: "expected an integer in 1...4096")),
        ("link = 3-7\nlocal-node = 3\nqber-alarm = 1.5\n", .invalidValue(field: "qber-alarm", line: 3, reason: "expected a fraction in [0, 1), e.g. 0.05")),
        ("link = 3-7\nlocal-node = 3\ncolour = red\n", .unknownField(field: "colour", line: 3)),
        ("link = 3-7\nlink = 3-8\n", .duplicateField(field: "link", line: 2)),
        ("link 3-7\n", .syntax(line: 1)),
        ("link = 3-7\nlocal-node = 3\nlabel = unquoted\n", .invalidValue(field: "label", line: 3, reason: "expected a quoted string")),
        ("link = 3-7\nlocal-node = 3\nlabel = \"\(String(repeating: "x", count: 49))\"\n", .invalidValue(field: "label", line: 3, reason: "at most 48 bytes of UTF-8")),
    ])
    func rejectsBadFilesNamingTheField(text: String, error: LinkConfigurationError) {
        #expect(throws: error) { try LinkConfiguration(parsing: text) }
    }

    @Test func rejectsMalformedBlobs() {
        #expect(throws: LinkConfigurationError.malformedBlob(reason: "3 bytes, expected 96")) {
            try LinkConfiguration(blob: [1, 2, 3])
        }
        #expect(throws: LinkConfigurationError.malformedBlob(reason: "bad magic")) {
            try LinkConfiguration(blob: [UInt8](repeating: 0, count: 96))
        }
    }

    @Test func crc32cCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }
}
