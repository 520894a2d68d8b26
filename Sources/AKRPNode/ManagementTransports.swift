import AKRPEngine
import AKRPManagement
import NIOCore

/// SMP on a byte stream (the Unix socket): packets back to back, each an 8-byte header and the body its
/// length names. A header announcing more than the server accepts closes the connection (a stream
/// cannot be resynchronised after it).
final class SMPStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let server: ManagementServer
    private var pending: [UInt8] = []

    init(server: ManagementServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let bytes = buffer.readBytes(length: buffer.readableBytes) { pending += bytes }
        while pending.count >= SMPHeader.size {
            let length = Int(pending[2]) << 8 | Int(pending[3])
            guard SMPHeader.size + length <= ManagementServer.maximumPacketSize else {
                server.counters.oversized += 1
                pending = []
                context.close(promise: nil)
                return
            }
            guard pending.count >= SMPHeader.size + length else { return }
            let packet = Array(pending[0..<(SMPHeader.size + length)])
            pending.removeFirst(SMPHeader.size + length)
            if var answer = server.handle(packet, via: "socket") {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: answer)), promise: nil)
                answer.withUnsafeMutableBytes { wipe($0) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// SMP over UDP: one packet per datagram, the answer sent back to its sender. Datagrams that are not
/// exactly one packet get an error answer or are dropped.
final class SMPDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let server: ManagementServer

    init(server: ManagementServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var buffer = envelope.data
        guard buffer.readableBytes <= ManagementServer.maximumPacketSize, let packet = buffer.readBytes(length: buffer.readableBytes)
        else {
            server.counters.oversized += 1
            return
        }
        guard let answer = server.handle(packet, via: "udp") else { return }
        let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: answer))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram error (e.g. ICMP port unreachable from a client gone) concerns one client only.
        server.counters.transportErrors += 1
    }
}

/// SMP over a serial line: MCUmgr's line framing (start bytes, base64, length, CRC16) decoded with
/// ``SerialFrameDecoder``; answers framed the same way. Console noise between packets is ignored.
final class SMPSerialHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let server: ManagementServer
    private var decoder = SerialFrameDecoder(maximumLineLength: 1024, maximumPacketSize: ManagementServer.maximumPacketSize)

    init(server: ManagementServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }
        for event in decoder.feed(bytes) {
            switch event {
            case .packet(let packet):
                if let answer = server.handle(packet, via: "serial") {
                    context.writeAndFlush(
                        wrapOutboundOut(context.channel.allocator.buffer(bytes: SerialFraming.encode(answer))), promise: nil)
                }
            case .dropped(let why):
                server.counters.serialDrops += 1
                server.node.logger.debug("SMP serial: dropped bytes", metadata: ["reason": "\(why)"])
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.counters.transportErrors += 1
        server.node.logger.warning("SMP serial line error", metadata: ["error": "\(error)"])
    }
}
