import AKRPManagement
import Testing

@Suite struct DispatcherTests {
    static func request(
        _ op: SMPOperation, group: UInt16, command: UInt8, body: CBORValue?, version: UInt8 = 1, sequence: UInt8 = 42
    ) -> [UInt8] {
        let b = body.map { (try? CBOREncoder.encode($0)) ?? [] } ?? []
        return SMPHeader(operation: op, version: version, length: UInt16(b.count), group: group, sequence: sequence, command: command).bytes + b
    }

    static func answer(_ bytes: [UInt8]) throws -> (SMPHeader, CBORValue) {
        let h = try #require(SMPHeader(bytes))
        #expect(Int(h.length) == bytes.count - SMPHeader.size)
        return (h, try CBORDecoder.decode(Array(bytes[SMPHeader.size...])))
    }

    static func echoServer() -> SMPDispatcher {
        let d = SMPDispatcher()
        d.register(group: 0, command: 0, write: { r in
            guard let text = r["d"]?.textValue else { return .error(.invalidValue) }
            return .answer([("r", .text(text))])
        })
        d.register(group: 64, command: 1, read: { _ in .groupError(7) })
        return d
    }

    @Test func echoAnswersWithOpPlusOneSameSequenceAndVersion() throws {
        let d = Self.echoServer()
        for version: UInt8 in [0, 1] {
            let out = try d.handle(Self.request(.write, group: 0, command: 0, body: .object([("d", .text("hi"))]), version: version)).get()
            let (h, body) = try Self.answer(out)
            #expect(h.operation == .writeResponse)
            #expect(h.sequence == 42)
            #expect(h.version == version)
            #expect(h.group == 0 && h.command == 0)
            #expect(body["r"] == .text("hi"))
        }
    }

    @Test func errorsAreSMPErrorsOrGroupErrorMaps() throws {
        let d = Self.echoServer()
        // Wrong type: an SMP error.
        var (_, body) = try Self.answer(try d.handle(Self.request(.write, group: 0, command: 0, body: .object([("d", .unsigned(1))]))).get())
        #expect(body["rc"] == .unsigned(UInt64(SMPReturnCode.invalidValue.rawValue)))
        // Unknown group, unknown command, read of a write-only command: not supported.
        for (op, g, c) in [(SMPOperation.read, UInt16(99), UInt8(0)), (.write, 0, 77), (.read, 0, 0)] {
            (_, body) = try Self.answer(try d.handle(Self.request(op, group: g, command: c, body: .map([]))).get())
            #expect(body["rc"] == .unsigned(UInt64(SMPReturnCode.notSupported.rawValue)))
        }
        // A group error: {err: {group, rc}} in version 2, {rc} in version 1.
        (_, body) = try Self.answer(try d.handle(Self.request(.read, group: 64, command: 1, body: nil)).get())
        #expect(body["err"]?["group"] == .unsigned(64))
        #expect(body["err"]?["rc"] == .unsigned(7))
        (_, body) = try Self.answer(try d.handle(Self.request(.read, group: 64, command: 1, body: nil, version: 0)).get())
        #expect(body["rc"] == .unsigned(7))
        // Version 3: too new.
        (_, body) = try Self.answer(try d.handle(Self.request(.read, group: 0, command: 0, body: nil, version: 3)).get())
        #expect(body["rc"] == .unsigned(UInt64(SMPReturnCode.protocolTooNew.rawValue)))
    }

    @Test func hostilePackets() throws {
        let d = Self.echoServer()
        #expect(d.handle([0, 1, 2]) == .failure(.shortPacket(3)))
        #expect(d.handle(Self.request(.readResponse, group: 0, command: 0, body: nil)) == .failure(.responseReceived))
        // Length field disagreeing with the packet, CBOR that is not a map, malformed CBOR, deep nesting.
        var lying = Self.request(.write, group: 0, command: 0, body: .object([("d", .text("x"))]))
        lying[3] &+= 5
        let notMap = Self.request(.write, group: 0, command: 0, body: .array([]))
        var malformed = SMPHeader(operation: .write, length: 2, group: 0, sequence: 1, command: 0).bytes
        malformed += [0xA1, 0x61]
        let depth = 200
        var deep = SMPHeader(operation: .write, length: UInt16(depth + 1), group: 0, sequence: 1, command: 0).bytes
        deep += [UInt8](repeating: 0x81, count: depth) + [0]
        for p in [lying, notMap, malformed, deep] {
            let (_, body) = try Self.answer(try d.handle(p).get())
            #expect(body["rc"] == .unsigned(UInt64(SMPReturnCode.invalidValue.rawValue)))
        }
        #expect(d.counters.malformedBodies == 4)
    }
}
