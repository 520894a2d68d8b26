import AKRPEngine
import AKRPWire
import NIOCore

/// Frames to neighbours: engine messages queued per neighbour, keyed with the sender's own key units (a
/// recycled hash key and 8-byte pads, docs/WIRE.md §4.6) and sealed, written after the audit log.
extension RelayNode {

    /// Queues one engine message for its neighbour; lost at once if the neighbour is not connected
    /// (the engine treats it as a lost message and its timers recover).
    func queue(message m: Message, payload: UnsafeRawBufferPointer) {
        guard let peer = peers[m.to] else { return }
        guard peer.isReady, peer.outgoingCount < configuration.peers.pendingMessages else {
            peer.counters.messagesDropped += 1
            return
        }
        peer.outgoing.append(Peer.Outgoing(message: m, payload: Array(payload)))
    }

    /// Seals what waits for every neighbour into one buffer per neighbour (the authentication units they
    /// spend go to the audit buffer); the caller writes the audit log, then the buffers.
    func sealAll() -> [(any Channel, ByteBuffer)] {
        var writes: [(any Channel, ByteBuffer)] = []
        for peer in peers.values where !peer.outgoing.isEmpty {
            if let (channel, buffer) = seal(peer) { writes.append((channel, buffer)) }
        }
        return writes
    }

    /// Keys and sends what waits for one neighbour (after its key arrived or its connection came up).
    func transmit(_ peer: Peer, now: Nanoseconds) {
        guard let (channel, buffer) = seal(peer) else { return }
        if audit.hasPending { audit.flush(now: now) }
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Seals what waits for `peer`, in order, as long as this end has authentication key; returns the
    /// frames to write (nil when none).
    private func seal(_ peer: Peer) -> ((any Channel), ByteBuffer)? {
        guard peer.isReady, let channel = peer.channel else { return nil }
        var buffer = channel.allocator.buffer(capacity: 0)
        let link = LinkID(configuration.node, peer.neighbour)
        while peer.outgoingStart < peer.outgoing.count {
            let item = peer.outgoing[peer.outgoingStart]
            let sealed: Int?
            do throws(WireError) {
                sealed = try withBytes(item.payload) { payload throws(WireError) in
                    try peer.sealer.seal(
                        item.message, payload: payload, engine: engine, toward: peer.neighbour, into: frameBuffer
                    ) { unit in
                        audit.authentication(link: link, sent: true, unit: unit)
                        peer.counters.authenticationUnitsSent += 1
                    }
                }
            } catch {
                logger.error("cannot encode a frame (dropped)", metadata: ["kind": "\(item.message.kind)", "error": "\(error)"])
                peer.counters.messagesDropped += 1
                sealed = 0
            }
            guard let length = sealed else { break }  // no own key unit yet: the frame waits for key
            wipeBytes(&peer.outgoing[peer.outgoingStart].payload)
            peer.outgoingStart += 1
            guard length > 0 else { continue }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: frameBuffer[0..<length]))
            wipe(UnsafeMutableRawBufferPointer(rebasing: frameBuffer[0..<length]))
            peer.counters.framesSent += 1
            peer.counters.bytesSent += UInt64(length)
        }
        if peer.outgoingStart == peer.outgoing.count {
            peer.outgoing.removeAll(keepingCapacity: true)
            peer.outgoingStart = 0
        } else if peer.outgoingStart > 1024 {
            peer.outgoing.removeFirst(peer.outgoingStart)
            peer.outgoingStart = 0
        }
        return buffer.readableBytes > 0 ? (channel, buffer) : nil
    }
}

/// `Array.withUnsafeBytes` rethrows untyped errors; this keeps the body's typed error.
func withBytes<T, E: Error>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
    var result: Result<T, E>?
    bytes.withUnsafeBytes { raw in result = Result { () throws(E) -> T in try body(raw) } }
    return try result!.get()
}
