import AKRPEngine
import AKRPWire
import Testing

struct ControlCodecTests {
    static func samples() throws -> [(ControlMessage, [UInt8])] {
        var out: [(ControlMessage, [UInt8])] = []
        var m = ControlMessage(kind: .stateDumpRequest, to: NodeID(5), correlation: 1)
        m.offset = 4096
        out.append((m, []))
        m = ControlMessage(kind: .stateDumpResponse, from: NodeID(5), correlation: 1)
        m.offset = 4096
        m.totalLength = 5000
        m.dataLength = 5
        out.append((m, Array("state".utf8)))
        m = ControlMessage(kind: .statisticsRequest, to: NodeID(5), correlation: 2)
        m.page = 1
        out.append((m, []))
        m = ControlMessage(kind: .statisticsResponse, from: NodeID(5), correlation: 2)
        m.page = 1
        m.pageCount = 3
        m.totals.deliveredKeys = 10
        m.totals.deliveredKeyBytes = 320
        m.totals.failedRequests = 1
        m.totals.authenticationBytes = 4096
        try m.appendLink(LinkStatistics(link: LinkID(NodeID(5), NodeID(2)), availableUnits: 100, reservedUnits: 3,
                                        consumedUnits: 40, discardedUnits: 1, authenticationBytes: 2048))
        try m.appendLink(LinkStatistics(link: LinkID(NodeID(5), NodeID(9)), availableUnits: 7))
        out.append((m, []))
        m = ControlMessage(kind: .keyRequest, to: NodeID(5), correlation: 3)
        m.destination = NodeID(9)
        m.keyLength = 32
        out.append((m, []))
        m = ControlMessage(kind: .keyResponse, from: NodeID(5), correlation: 3)
        m.request = RequestID(source: NodeID(5), serial: 77)
        m.dataLength = 32
        m.keyLength = 32
        out.append((m, [UInt8](repeating: 0xAB, count: 32)))
        m = ControlMessage(kind: .keyResponse, from: NodeID(5), correlation: 4)
        m.status = FailReason.noRoute.rawValue
        out.append((m, []))
        m = ControlMessage(kind: .configurationChunk, to: NodeID(5), correlation: 5)
        m.totalLength = 10
        m.offset = 6
        m.dataLength = 4
        out.append((m, [1, 2, 3, 4]))
        m = ControlMessage(kind: .configurationAck, from: NodeID(5), correlation: 5)
        m.status = ConfigurationStatus.complete.rawValue
        m.offset = 10
        out.append((m, []))
        m = ControlMessage(kind: .keyFetchRequest, to: NodeID(5), correlation: 6)
        m.request = RequestID(source: NodeID(2), serial: 1_048_577)
        out.append((m, []))
        m = ControlMessage(kind: .keyResponse, from: NodeID(5), correlation: 6)
        m.status = KeyResponseStatus.unknownKey.rawValue
        m.request = RequestID(source: NodeID(2), serial: 1_048_577)
        out.append((m, []))
        m = ControlMessage(kind: .peerPosition, from: NodeID(3), to: NodeID(5))
        m.incarnation = 7
        m.position = 1 << 40
        out.append((m, []))
        return out
    }

    @Test func roundTripEveryKind() throws {
        let all = try Self.samples()
        #expect(Set(all.map { $0.0.kind }) == Set(ControlKind.allCases))
        for (m, data) in all {
            let frame = try encodeControl(m, data: data)
            #expect(frame[4] == FrameFlags.local.rawValue)
            let (decoded, decodedData) = try decodeControl(frame)
            #expect(decoded.message == m)
            #expect(decodedData == data)
            for length in 0..<frame.count {
                #expect(throws: WireError.self) { try decodeControl(Array(frame[0..<length])) }
            }
            // A neighbour decoder refuses a control frame.
            #expect(throws: WireError.unknownType(frame[3])) { try decode(frame) }
        }
    }

    @Test func invalidFieldsAreRefused() throws {
        var m = ControlMessage(kind: .configurationChunk)
        m.totalLength = 3
        m.offset = 2
        m.dataLength = 2
        #expect(throws: WireError.invalidField(.dataLength)) { try encodeControl(m, data: [1, 2]) }
        var key = ControlMessage(kind: .keyRequest)
        #expect(throws: WireError.invalidField(.destination)) { try encodeControl(key) }
        key.destination = NodeID(3)
        #expect(throws: WireError.invalidField(.keyLength)) { try encodeControl(key) }
        var ack = ControlMessage(kind: .configurationAck)
        ack.status = 9
        #expect(throws: WireError.invalidField(.status)) { try encodeControl(ack) }
        var stats = ControlMessage(kind: .statisticsResponse)
        stats.pageCount = 1
        for _ in 0..<ControlMessage.maximumLinks {
            try stats.appendLink(LinkStatistics(link: LinkID(NodeID(1), NodeID(2))))
        }
        #expect(throws: WireError.invalidField(.linkCount)) {
            try stats.appendLink(LinkStatistics(link: LinkID(NodeID(1), NodeID(2))))
        }
        var frame = try encodeControl(stats)
        frame[28 + 4 + 32] = 17  // link count over the cap
        #expect(throws: WireError.invalidField(.linkCount)) { try decodeControl(frame) }
    }
}
