import AKRPManagement
import Testing

@Suite struct SerialFramingTests {
    @Test func crcCheckValue() {
        #expect(CRC16.checksum(Array("123456789".utf8)) == 0x31C3)
        #expect(CRC16.checksum([]) == 0)
    }

    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func base64RFC4648(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == Array(encoded.utf8))
        #expect(Base64.decode(Array(encoded.utf8)) == Array(plain.utf8))
    }

    @Test(arguments: ["Zg=", "Z===", "Zm9v!A==", "Zh==", "=AAA", "Zm8"])
    func base64Refuses(_ text: String) {
        #expect(Base64.decode(Array(text.utf8)) == nil)
    }

    static func packet(bodyLength: Int) -> [UInt8] {
        let header = SMPHeader(operation: .read, length: UInt16(bodyLength), group: 0, sequence: 7, command: 0)
        return header.bytes + (0..<bodyLength).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    }

    @Test(arguments: [0, 1, 2, 3, 80, 89, 90, 91, 92, 93, 500, 2000])
    func roundTripInEverySplit(bodyLength: Int) {
        let p = Self.packet(bodyLength: bodyLength)
        let wire = SerialFraming.encode(p)
        // Every line within the limit, starting with the right bytes.
        var lines = wire.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast()
        #expect(lines.allSatisfy { $0.count + 1 <= SerialFraming.maximumLineLength })
        #expect(lines.first.map { Array($0.prefix(2)) } == [0x06, 0x09])
        lines = lines.dropFirst()
        #expect(lines.allSatisfy { Array($0.prefix(2)) == [0x04, 0x14] })
        for chunk in [1, 2, 3, 7, 64, wire.count] {
            var d = SerialFrameDecoder()
            var events: [SerialFrameEvent] = []
            var i = 0
            while i < wire.count {
                events += d.feed(wire[i..<min(i + chunk, wire.count)])
                i += chunk
            }
            #expect(events == [.packet(p)], "chunk \(chunk)")
        }
    }

    @Test func consoleNoiseIsIgnoredAndPacketsFollow() {
        let p = Self.packet(bodyLength: 10)
        var d = SerialFrameDecoder()
        let events = d.feed(Array("login: \r\nhello\n".utf8) + SerialFraming.encode(p) + SerialFraming.encode(p))
        #expect(events == [.packet(p), .packet(p)])
    }

    @Test func badCRCAndBadBase64AreDropped() {
        let p = Self.packet(bodyLength: 10)
        var wire = SerialFraming.encode(p)
        // Change one base64 character inside the packet: the CRC no longer matches.
        wire[10] = wire[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        var d = SerialFrameDecoder()
        #expect(d.feed(wire) == [.dropped(.badCRC)])
        var bad = SerialFraming.encode(p)
        bad[5] = UInt8(ascii: "*")
        #expect(d.feed(bad) == [.dropped(.badBase64)])
        // The decoder recovers for the next packet.
        #expect(d.feed(SerialFraming.encode(p)) == [.packet(p)])
    }

    @Test func oversizedAndTruncatedFramesAreDropped() {
        var d = SerialFrameDecoder(maximumLineLength: 128, maximumPacketSize: 64)
        let big = Self.packet(bodyLength: 100)
        #expect(d.feed(SerialFraming.encode(big)) == [.dropped(.badLength(110)), .dropped(.continuationWithoutStart)])
        // A line beyond the limit.
        #expect(d.feed([0x06, 0x09] + [UInt8](repeating: UInt8(ascii: "A"), count: 300) + [0x0A]) == [.dropped(.lineTooLong)])
        // A packet cut short, then a new one: the first is reported incomplete, the second delivered.
        let p = Self.packet(bodyLength: 40)
        var d2 = SerialFrameDecoder()
        let long = Self.packet(bodyLength: 200)
        let firstLine = SerialFraming.encode(long).prefix { $0 != 0x0A } + [0x0A]
        #expect(d2.feed(firstLine) == [])
        #expect(d2.feed(SerialFraming.encode(p)) == [.dropped(.incomplete), .packet(p)])
        // A length field claiming less than what follows.
        var raw: [UInt8] = [0x00, 0x0A] + p + [0, 0]
        raw[0] = 0
        let text = [0x06, 0x09] + Base64.encode(raw) + [0x0A]
        #expect(d2.feed(text) == [.dropped(.overrun)])
    }
}

/// Vectors published with the `smp` Python package (the library behind smpclient and smpmgr).
@Suite struct SerialFramingPublishedVectors {
    @Test func helloWorldSingleLine() {
        let wire = Array("\u{06}\tAA9IZWxsbywgd29ybGQhet4=\n".utf8)
        #expect(SerialFraming.encode(Array("Hello, world!".utf8)) == wire)
        var d = SerialFrameDecoder()
        #expect(d.feed(wire) == [.packet(Array("Hello, world!".utf8))])
    }

    @Test func imageUploadRequestInFifteenLines() throws {
        let lines = [
            "06094148344b41414230414147610a", "041441615a6a6247567544574e760a", "04145a6d59594b6d4e7a6147464d0a",
            "041464484a3163335167625755670a", "0414596e4a765a475268644746590a", "04145141414241674d45425159480a",
            "041443416b4b4377774e446738510a", "041445524954464255574678675a0a", "04144768736348523466494345690a",
            "04144979516c4a69636f4b536f720a", "04144c4330754c7a41784d6a4d300a", "04144e5459334f446b364f7a77390a",
            "0414506a396c615731685a3255410a", "04145a3356775a334a685a4758300a", "04147134673d0a",
        ]
        var d = SerialFrameDecoder()
        var events: [SerialFrameEvent] = []
        for line in lines { events += d.feed(hex(line)) }
        #expect(events.count == 1)
        guard case .packet(let p) = events.first else { return }
        let header = try #require(SMPHeader(p))
        #expect(header.operation == .write && header.version == 1 && header.group == 1 && header.command == 1)
        #expect(header.sequence == 154 && header.length == 116)
        let body = try CBORDecoder.decode(Array(p[8...]))
        #expect(body["off"] == .unsigned(42))
        #expect(body["len"] == .unsigned(13))
        #expect(body["sha"] == .bytes(Array("trust me bro".utf8)))
        #expect(body["data"] == .bytes((0..<64).map { UInt8($0) }))
        #expect(body["image"] == .unsigned(0))
        #expect(body["upgrade"] == .bool(false))
    }
}
