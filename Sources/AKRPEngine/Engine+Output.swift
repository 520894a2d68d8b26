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

    /// Sends `m` to the neighbour of session `s`, stamping the link header.
    @inline(__always)
    func send(_ m: inout Message, _ s: Int, _ outbox: Outbox, payloadOffset: Int = 0) {
        sessions[s].sendSequence += 1
        m.from = node
        m.to = sessions[s].peer
        m.incarnation = incarnation
        m.peerIncarnation = sessions[s].peerIncarnation
        m.sequence = sessions[s].sendSequence
        if outbox.push(m, payloadOffset: payloadOffset) {
            counters.messagesSent += 1
        } else {
            var e = EngineEvent(kind: .outboxOverflow)
            e.request = m.request
            outbox.push(event: e)
        }
    }
}
