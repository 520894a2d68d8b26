import AKRPEngine
import AKRPWire
import Foundation
import Testing

/// The hex test vectors of `docs/WIRE.md`: the document's bytes must be exactly what the codec writes,
/// and must decode (and verify) back to the same messages.
struct WireVectorTests {
    static let n1 = NodeID(1)
    static let n2 = NodeID(2)

    /// The neighbour vectors, in session order: frame k has sequence number k.
    static func neighbourVectors() throws -> [(name: String, message: Message, payload: [UInt8])] {
        let request = RequestID(source: NodeID(1), serial: 0x11)
        func base(_ kind: MessageKind) -> Message {
            var m = Message(kind: kind, from: n1, to: n2)
            m.incarnation = 0x0000_0000_0000_00A1
            m.peerIncarnation = 0x0000_0000_0000_00B2
            if MessageLayout.carriesRequest(kind) {
                m.request = request
                m.branch = 1
            }
            return m
        }
        var out: [(String, Message, [UInt8])] = []
        var hello = base(.hello)
        hello.peerIncarnation = 0
        hello.index = 0x0F00
        out.append(("hello", hello, []))
        var resync = base(.resync)
        resync.index = 0x1000
        out.append(("resync", resync, []))
        var reserve = base(.reserve)
        reserve.path = try Path([NodeID(1), NodeID(2), NodeID(3)])
        reserve.hop = 0
        reserve.size = 4
        reserve.time = 5_000_000_000
        reserve.index = 0x140
        try reserve.units.append(run: UnitRun(start: 0x100, count: 3))
        try reserve.units.append(run: UnitRun(start: 0x105, count: 1))
        out.append(("reserve", reserve, []))
        var confirm = base(.confirm)
        confirm.time = 6_000_000_000
        confirm.index = 0x140
        confirm.units = reserve.units
        out.append(("confirm", confirm, []))
        var fail = base(.fail)
        fail.reason = FailReason.noKeyWithinBudget.rawValue
        out.append(("fail", fail, []))
        var commit = base(.commit)
        commit.shareMask = 0b10
        commit.time = 6_000_000_000
        try commit.units.append(run: UnitRun(start: 0x110, count: 4))
        commit.payloadLength = 4
        commit.reason = Message.noticeAwaited
        out.append(("commit", commit, [0xDE, 0xAD, 0xBE, 0xEF]))
        var share = base(.share)
        share.hop = 1
        share.size = 1
        share.path = reserve.path
        share.payloadLength = 4
        out.append(("share", share, [0x01, 0x02, 0x03, 0x04]))
        out.append(("release", base(.release), []))
        out.append(("abort", base(.abort), []))
        var reply = base(.abortReply)
        reply.reason = AbortOutcome.released.rawValue
        out.append(("abortReply", reply, []))
        var state = base(.linkState)
        state.subject = LinkID(NodeID(2), NodeID(3))
        state.request = RequestID(source: NodeID(2), serial: 0)
        state.hop = 4
        state.index = 1000
        state.rate = 250
        state.serial = 7
        out.append(("linkState", state, []))
        var delivered = base(.delivered)
        delivered.path = reserve.path
        delivered.hop = 1
        delivered.reason = Message.noticeAwaited
        out.append(("delivered", delivered, []))
        for i in out.indices { out[i].1.sequence = UInt64(i + 1) }
        return out
    }

    static func controlVectors() throws -> [(name: String, message: ControlMessage, data: [UInt8])] {
        var key = ControlMessage(kind: .keyRequest, to: NodeID(1), correlation: 1)
        key.destination = NodeID(3)
        key.keyLength = 32
        var stats = ControlMessage(kind: .statisticsResponse, from: NodeID(1), correlation: 2)
        stats.pageCount = 1
        stats.totals.deliveredKeys = 2
        stats.totals.deliveredKeyBytes = 64
        stats.totals.authenticationBytes = 208
        try stats.appendLink(LinkStatistics(link: LinkID(NodeID(1), NodeID(2)), availableUnits: 90, reservedUnits: 4,
                                            consumedUnits: 2, discardedUnits: 0, authenticationBytes: 208))
        var chunk = ControlMessage(kind: .configurationChunk, to: NodeID(1), correlation: 3)
        chunk.totalLength = 8
        chunk.offset = 4
        chunk.dataLength = 4
        return [("keyRequest", key, []), ("statisticsResponse", stats, []), ("configurationChunk", chunk, [0x63, 0x66, 0x67, 0x0A])]
    }

    /// Hex blocks of WIRE.md, by the name in the `<!-- vector: NAME -->` line before them.
    static func documentVectors() throws -> [String: [UInt8]] {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/WIRE.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        var out: [String: [UInt8]] = [:]
        var name: String?
        var collecting = false
        var hexText = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("<!-- vector: ") {
                name = String(line.dropFirst("<!-- vector: ".count).prefix { $0 != " " })
            } else if line.hasPrefix("```hex") {
                collecting = true
                hexText = ""
            } else if collecting && line.hasPrefix("```") {
                collecting = false
                if let n = name { out[n] = bytes(hex: hexText) }
                name = nil
            } else if collecting {
                hexText += line.prefix { $0 != "#" }  // comments after '#'
            }
        }
        return out
    }

    static func format(_ b: [UInt8]) -> String {
        stride(from: 0, to: b.count, by: 16).map { i in
            b[i..<min(i + 16, b.count)].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    @Test func neighbourVectorsMatchTheDocument() throws {
        let document = try Self.documentVectors()
        var sealer = FrameSealer(from: Self.n1, to: Self.n2)
        var verifier = FrameVerifier(from: Self.n1, to: Self.n2)
        var send = SequentialKeySupply()
        var receive = SequentialKeySupply()
        var frames: [[UInt8]] = []
        for (name, message, payload) in try Self.neighbourVectors() {
            let frame = try seal(message, payload: payload, sealer: &sealer, keys: &send)
            frames.append(frame)
            if ProcessInfo.processInfo.environment["WIRE_PRINT_VECTORS"] != nil {
                print("<!-- vector: \(name) -->\n```hex\n\(Self.format(frame))\n```")
            }
        }
        for (i, (name, message, payload)) in try Self.neighbourVectors().enumerated() {
            let frame = frames[i]
            #expect(document[name] == frame, "vector \(name): codec writes\n\(Self.format(frame))")
            let (decoded, decodedPayload) = try open(document[name] ?? [], verifier: &verifier, keys: &receive)
            #expect(decoded.message == message)
            #expect(decodedPayload == payload)
        }
    }

    /// Independent of the codec, the sealer and the key window: every neighbour vector's tag recomputed
    /// from the document's bytes with the textbook Poly1305 of `Poly1305Tests` and the key layout of
    /// WIRE.md §6 (r₀ = stream bytes 0…15; the pad of frame k = bytes 16k…16k+15).
    @Test func documentTagsMatchATextbookPoly1305() throws {
        let document = try Self.documentVectors()
        let r0 = (0..<16).map { UInt8($0) }
        for (i, vector) in try Self.neighbourVectors().enumerated() {
            let frame = try #require(document[vector.name])
            let k = i + 1
            let pad = (0..<16).map { UInt8(truncatingIfNeeded: 16 * k + $0) }
            let tag = ReferencePoly1305.tag(key: r0 + pad, message: Array(frame.dropLast(16)))
            #expect(Array(frame.suffix(16)) == tag, "vector \(vector.name)")
        }
    }

    @Test func controlVectorsMatchTheDocument() throws {
        let document = try Self.documentVectors()
        for (name, message, data) in try Self.controlVectors() {
            let frame = try encodeControl(message, data: data)
            if ProcessInfo.processInfo.environment["WIRE_PRINT_VECTORS"] != nil {
                print("<!-- vector: \(name) -->\n```hex\n\(Self.format(frame))\n```")
            }
        }
        for (name, message, data) in try Self.controlVectors() {
            let frame = try encodeControl(message, data: data)
            #expect(document[name] == frame, "vector \(name): codec writes\n\(Self.format(frame))")
            let (decoded, decodedData) = try decodeControl(document[name] ?? [])
            #expect(decoded.message == message)
            #expect(decodedData == data)
        }
    }
}
