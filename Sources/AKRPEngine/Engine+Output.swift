/// What the engine writes: messages to neighbours (with the link header), refusals, and its next timer.
extension Engine {
    @inline(__always)
    func noteTimer(_ t: Nanoseconds) { if t < nextTimer { nextTimer = t } }

    @inline(__always)
    func reject(_ r: InputRejection, _ outbox: Outbox) {
        counters.rejections[Int(r.rawValue)] += 1
        var e = EngineEvent(kind: .inputRejected)
        e.rejection = r
        outbox.push(event: e)
    }

    /// Sends `message` to the neighbour of session index `session`, stamping the link header.
    @inline(__always)
    func send(_ message: inout Message, _ session: Int, _ outbox: Outbox, payloadOffset: Int = 0) {
        sessions[session].sendSequence += 1
        message.from = node
        message.to = sessions[session].peer
        message.incarnation = incarnation
        message.peerIncarnation = sessions[session].peerIncarnation
        message.sequence = sessions[session].sendSequence
        if outbox.push(message, payloadOffset: payloadOffset) {
            counters.messagesSent += 1
        } else {
            var e = EngineEvent(kind: .outboxOverflow)
            e.request = message.request
            outbox.push(event: e)
        }
    }
}
