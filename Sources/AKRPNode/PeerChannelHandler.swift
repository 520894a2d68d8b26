import AKRPEngine
import AKRPWire
import NIOCore

/// The pipeline handler of one neighbour connection: reads the 36-byte greeting, then cuts the stream
/// into frames (`FrameStreamDecoder`: lengths capped before anything is buffered) and hands each to the
/// node. Bytes that are not frames close the connection; nothing else on the box is affected.
final class PeerChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let node: RelayNode
    /// The neighbour this connection belongs to: known when dialled, learnt from the greeting when accepted.
    var neighbour: NodeID?
    let dialled: Bool
    private var greetingBytes: [UInt8] = []
    private(set) var greeted = false
    private var decoder: FrameStreamDecoder
    private(set) var channel: (any Channel)?
    private var closed = false
    /// When the first bytes of the current read arrived (monotonic ns), for the relay step latency.
    var readStarted: UInt64?

    init(node: RelayNode, neighbour: NodeID?, maximumFrameSize: Int) {
        self.node = node
        self.neighbour = neighbour
        dialled = neighbour != nil
        decoder = FrameStreamDecoder(maximumFrameSize: maximumFrameSize)
    }

    func channelActive(context: ChannelHandlerContext) {
        channel = context.channel
        node.peerChannelActive(self)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        node.peerChannelInactive(self)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard !closed else { return }
        if readStarted == nil { readStarted = monotonicNanoseconds() }
        if !greeted {
            let need = PeerGreeting.length - greetingBytes.count
            let take = min(need, buffer.readableBytes)
            if let bytes = buffer.readBytes(length: take) { greetingBytes += bytes }
            guard greetingBytes.count == PeerGreeting.length else { return }
            let greeting: PeerGreeting
            do throws(PeerGreeting.Error) {
                greeting = try PeerGreeting(decoding: greetingBytes[...])
            } catch {
                node.peerGreetingRefused(self, reason: error.description)
                close()
                return
            }
            greeted = true
            guard node.peerGreeted(self, greeting) else {
                close()
                return
            }
        }
        let failed = decoder.read(buffer, while: { !closed }) { frame in node.peerFrame(self, frame) }
        if let failed {
            node.peerGarbage(self, error: failed)
            close()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        node.peerReadComplete(self)
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        node.peerError(self, error: error)
        close()
    }

    /// Closes the connection (idempotent).
    func close() {
        guard !closed else { return }
        closed = true
        channel?.close(promise: nil)
    }
}
