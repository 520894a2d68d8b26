// libFuzzer target for the AKRP wire decoders. Built by `tools/fuzz-wire` with
// `swiftc -sanitize=fuzzer,address`; not part of the package build.
import AKRPEngine
import AKRPWire

/// Deterministic authentication key: byte i is i mod 256 (the stream of the WIRE.md vectors).
struct FuzzKeySupply: AuthenticationKeySupply {
    var position: UInt64 = 0
    mutating func draw(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: position &+ UInt64(i)) }
        position &+= UInt64(buffer.count)
    }
}

nonisolated(unsafe) let payloadBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 8)
nonisolated(unsafe) let encodeBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 8)

/// A decoded frame must re-encode to exactly its own bytes (tag aside): one encoding per message.
func checkCanonicalNeighbour(_ frame: UnsafeRawBufferPointer) {
    guard let decoded = try? MessageCodec.decode(frame, payloadInto: payloadBuffer) else { return }
    let payload = UnsafeRawBufferPointer(start: payloadBuffer.baseAddress, count: Int(decoded.message.payloadLength))
    guard let length = try? MessageCodec.encodeUnsealed(decoded.message, payload: payload, into: encodeBuffer) else {
        fatalError("decoded neighbour message does not re-encode")
    }
    guard length == frame.count,
        UnsafeRawBufferPointer(rebasing: encodeBuffer[0..<(length - WireFormat.tagLength)])
            .elementsEqual(UnsafeRawBufferPointer(rebasing: frame[0..<(length - WireFormat.tagLength)]))
    else { fatalError("neighbour re-encoding differs") }
}

func checkCanonicalControl(_ frame: UnsafeRawBufferPointer) {
    guard let decoded = try? ControlCodec.decode(frame, dataInto: payloadBuffer) else { return }
    let data = UnsafeRawBufferPointer(start: payloadBuffer.baseAddress, count: Int(decoded.message.dataLength))
    guard let length = try? ControlCodec.encode(decoded.message, data: data, into: encodeBuffer) else {
        fatalError("decoded control message does not re-encode")
    }
    guard length == frame.count,
        UnsafeRawBufferPointer(rebasing: encodeBuffer[0..<length]).elementsEqual(frame)
    else { fatalError("control re-encoding differs") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWireDecoder(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    checkCanonicalNeighbour(input)
    checkCanonicalControl(input)
    _ = try? FrameHeader.parse(input, maximumFrameSize: 4096)

    var verifier = FrameVerifier(from: NodeID(1), to: NodeID(2))
    var keys = FuzzKeySupply()
    _ = try? verifier.open(input, payloadInto: payloadBuffer, keys: &keys)

    // The stream decoder, fed in pieces whose sizes come from the first byte.
    var stream = FrameStreamDecoder(maximumFrameSize: 1024)
    let piece = count > 0 ? Int(input[0] % 61) + 1 : 1
    var offset = 0
    streaming: while offset < count {
        var rest = UnsafeRawBufferPointer(rebasing: input[offset..<min(offset + piece, count)])
        offset += rest.count
        while !rest.isEmpty {
            guard let taken = try? stream.append(rest) else { break streaming }
            rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
            while true {
                let next: UnsafeRawBufferPointer?
                do throws(WireError) { next = try stream.nextFrame() } catch { break streaming }
                guard let frame = next else { break }
                if frame.count > 1024 { fatalError("stream returned a frame over its maximum") }
                checkCanonicalNeighbour(frame)
                checkCanonicalControl(frame)
            }
        }
    }
    return 0
}
