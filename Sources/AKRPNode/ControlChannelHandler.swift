import AKRPEngine
import AKRPWire
import NIOCore

/// One `akrpctl` connection on the local control socket: control frames of the wire format
/// (docs/WIRE.md §3) in, answers out. A client that sends bytes that are not control frames is
/// disconnected; one that goes away mid-request loses its answer and the key is wiped.
final class ControlChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Control frames are at most one data chunk plus header and body fields.
    static let maximumFrameSize = WireFormat.headerLength + 64 + ControlMessage.maximumDataLength

    let node: RelayNode
    private var decoder = FrameStreamDecoder(maximumFrameSize: ControlChannelHandler.maximumFrameSize)
    private(set) var channel: (any Channel)?
    private var closed = false
    /// The state dump being read by this client in chunks (made at offset 0).
    var dump: [UInt8] = []
    private let encodeBuffer: UnsafeMutableRawBufferPointer

    init(node: RelayNode) {
        self.node = node
        encodeBuffer = .allocate(byteCount: Self.maximumFrameSize, alignment: 16)
        encodeBuffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        wipe(encodeBuffer)
        encodeBuffer.deallocate()
    }

    func channelActive(context: ChannelHandlerContext) {
        channel = context.channel
        node.controlConnected(self)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        node.controlDisconnected(self)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard !closed else { return }
        let failed = decoder.read(buffer, while: { !closed }) { frame throws(WireError) in
            let decoded = try ControlCodec.decode(frame, maximumFrameSize: Self.maximumFrameSize)
            node.control(decoded, frame: frame, from: self)
        }
        if let failed {
            node.controlGarbage(self, error: failed)
            close()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        channel?.close(promise: nil)
    }

    /// Encodes and sends one control message with `data`.
    func send(_ message: ControlMessage, data: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        guard !closed, let channel else { return }
        do throws(WireError) {
            let length = try ControlCodec.encode(message, data: data, into: encodeBuffer)
            channel.writeAndFlush(channel.allocator.buffer(bytes: UnsafeRawBufferPointer(rebasing: encodeBuffer[0..<length])), promise: nil)
            wipe(UnsafeMutableRawBufferPointer(rebasing: encodeBuffer[0..<length]))
        } catch {
            node.logger.error("cannot encode a control answer", metadata: ["kind": "\(message.kind)", "error": "\(error)"])
        }
    }

    /// Answers a key request or fetch; the key's bytes are copied into the frame and wiped after sending.
    func sendKeyResponse(correlation: UInt64, status: UInt8, request: RequestID, key: SecretBytes?, started: UInt64? = nil) {
        if let started { node.localRequestLatency.record(monotonicNanoseconds() &- started) }
        var m = ControlMessage(kind: .keyResponse, from: node.configuration.node, correlation: correlation)
        m.status = key == nil ? (status == 0 ? KeyResponseStatus.unknownKey.rawValue : status) : 0
        m.request = request
        if let key, m.status == 0 {
            let n = min(key.count, ControlMessage.maximumDataLength)
            m.dataLength = UInt16(n)
            m.keyLength = UInt16(n)
            send(m, data: UnsafeRawBufferPointer(rebasing: key.bytes[0..<n]))
        } else {
            send(m)
        }
    }
}
