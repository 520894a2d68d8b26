// libFuzzer target for the SMP management decoders. Built by `tools/fuzz-smp` with
// `swiftc -sanitize=fuzzer,address`; not part of the package build.
import AKRPManagement

/// The server under test: echo, a statistics read and the image upload state machine, as the box registers them.
nonisolated(unsafe) var upload = ImageUpload(maximumLength: 1 << 16)
nonisolated(unsafe) let dispatcher: SMPDispatcher = {
    let d = SMPDispatcher(maximumAnswerSize: 4096)
    d.register(group: 0, command: 0, write: { r in
        guard let text = r["d"]?.textValue else { return .error(.invalidValue) }
        return .answer([("r", .text(text))])
    })
    d.register(group: 2, command: 0, read: { r in
        guard let name = r["name"]?.textValue else { return .error(.invalidValue) }
        return name == "box" ? .answer([("name", .text(name)), ("fields", .object([("n", .unsigned(1))]))]) : .groupError(2)
    })
    d.register(group: 1, command: 1, write: { r in
        guard let off = r["off"]?.unsignedValue, let data = r["data"]?.bytesValue else { return .error(.invalidValue) }
        do throws(ImageGroupError) {
            switch try upload.chunk(offset: off, data: data, length: r["len"]?.unsignedValue, sha: r["sha"]?.bytesValue) {
            case .next(let o): return .answer([("off", .unsigned(UInt64(o)))])
            case .complete(let bytes, _):
                _ = try? MCUbootImage(parsing: bytes)
                return .answer([("off", .unsigned(UInt64(bytes.count)))])
            }
        } catch { return .groupError(error.rawValue) }
    })
    return d
}()

/// Every answer is a well-formed packet: a header whose length is the body's, and a CBOR map.
func checkAnswer(_ answer: [UInt8]) {
    guard let h = SMPHeader(answer), Int(h.length) == answer.count - SMPHeader.size, answer.count <= 4096 else {
        fatalError("malformed answer")
    }
    guard case .map = (try? CBORDecoder.decode(Array(answer[SMPHeader.size...]))) ?? .null else { fatalError("answer body is not a map") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // CBOR: whatever decodes re-encodes to a value that decodes to the same value.
    if let value = try? CBORDecoder.decode(bytes) {
        guard let encoded = try? CBOREncoder.encode(value), let again = try? CBORDecoder.decode(encoded), again == value else {
            fatalError("CBOR round trip differs")
        }
    }
    _ = try? CBORDecoder.decodePrefix(bytes, limits: CBORLimits(maximumDepth: 4, maximumItems: 32, maximumStringLength: 64))
    // The packet as it would arrive over UDP or the socket.
    if case .success(let answer) = dispatcher.handle(bytes) { checkAnswer(answer) }
    // The bytes as a serial line, split where the first byte says; packets found go to the server.
    var decoder = SerialFrameDecoder(maximumLineLength: 256, maximumPacketSize: 2048)
    let split = size > 0 ? Int(bytes[0]) % (size + 1) : 0
    for part in [bytes[0..<split], bytes[split...]] {
        for event in decoder.feed(part) {
            if case .packet(let p) = event, case .success(let answer) = dispatcher.handle(p) {
                checkAnswer(answer)
                var back = SerialFrameDecoder()
                guard back.feed(SerialFraming.encode(answer)) == [.packet(answer)] else { fatalError("serial framing round trip") }
            }
        }
    }
    _ = Base64.decode(bytes)
    _ = try? MCUbootImage(parsing: bytes)
    return 0
}
