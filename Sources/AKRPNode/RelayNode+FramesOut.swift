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
        let capacity = MessageBundle.capacity(maximumFrameSize: maximumFrameSize)
        while peer.outgoingStart < peer.outgoing.count {
            // The messages that wait and fit travel in one frame (one pad): a bundle, or a plain frame
            // when only one does.
            var count = 0
            var bytes = 0
            while peer.outgoingStart + count < peer.outgoing.count {
                let next = MessageBundle.length(of: peer.outgoing[peer.outgoingStart + count].message)
                guard count == 0 || bytes + next <= capacity else { break }
                bytes += next
                count += 1
            }
            let first = peer.outgoingStart
            let sealed: Int?
            do throws(WireError) {
                let took: (UnitIndex) -> Void = { unit in
                    self.audit.authentication(link: link, sent: true, unit: unit)
                    peer.counters.authenticationUnitsSent += 1
                }
                if count == 1 {
                    let item = peer.outgoing[first]
                    sealed = try withBytes(item.payload) { payload throws(WireError) in
                        try peer.sealer.seal(
                            item.message, payload: payload, engine: engine, toward: peer.neighbour, into: frameBuffer,
                            took: took)
                    }
                } else {
                    sealed = try peer.sealer.sealFrame(engine: engine, toward: peer.neighbour, into: frameBuffer, took: took) {
                        sequence throws(WireError) in
                        var writer = MessageBundle.Writer(
                            into: frameBuffer, sequence: sequence, sender: configuration.node, receiver: peer.neighbour)
                        for i in first..<(first + count) {
                            let item = peer.outgoing[i]
                            try withBytes(item.payload) { payload throws(WireError) in
                                try writer.append(item.message, payload: payload)
                            }
                        }
                        return try writer.finish()
                    }
                }
            } catch {
                logger.error(
                    "cannot encode a frame (dropped)",
                    metadata: ["kind": "\(peer.outgoing[first].message.kind)", "messages": "\(count)", "error": "\(error)"])
                peer.counters.messagesDropped += UInt64(count)
                sealed = 0
            }
            guard let length = sealed else { break }  // no own key unit yet: the messages wait for key
            for i in first..<(first + count) { wipeBytes(&peer.outgoing[i].payload) }
            peer.outgoingStart += count
            guard length > 0 else { continue }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: frameBuffer[0..<length]))
            wipe(UnsafeMutableRawBufferPointer(rebasing: frameBuffer[0..<length]))
            peer.counters.framesSent += 1
            peer.counters.messagesSent += UInt64(count)
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
