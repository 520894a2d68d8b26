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

    /// Sends `message` to the neighbour of session index `session`, stamping the link header. Notices held
    /// for that neighbour (``sendLater(_:_:_:now:)``) leave first, in the same engine call: they share
    /// the frame.
    @inline(__always)
    func send(_ message: inout Message, _ session: Int, _ outbox: Outbox, payloadOffset: Int = 0) {
        if sessions[session].heldCount > 0 { releaseHeld(session, outbox) }
        stampAndPush(&message, session, outbox, payloadOffset: payloadOffset)
    }

    /// Holds a `delivered` notice nobody waits for for session `session` until the next message to that
    /// neighbour, at most `deliveredHold` (docs/PROTOCOL.md §4.12); sends it at once when holding is off.
    func sendLater(_ message: inout Message, _ session: Int, _ outbox: Outbox, now: Nanoseconds) {
        let hold = configuration.deliveredHold
        guard hold > 0 else { return send(&message, session, outbox) }
        var count = sessions[session].heldCount
        if count == Self.heldNoticesPerLink {
            releaseHeld(session, outbox)
            count = 0
        }
        held[session * Self.heldNoticesPerLink + count] = message
        sessions[session].heldCount = count + 1
        counters.deliveredNoticesHeld += 1
        if count == 0 {
            sessions[session].heldDeadline = now &+ hold
            noteTimer(sessions[session].heldDeadline)
        }
    }

    /// Sends every notice held for session `session`, oldest first.
    func releaseHeld(_ session: Int, _ outbox: Outbox) {
        let count = sessions[session].heldCount
        sessions[session].heldCount = 0
        sessions[session].heldDeadline = .max
        var k = 0
        while k < count {
            stampAndPush(&held[session * Self.heldNoticesPerLink + k], session, outbox, payloadOffset: 0)
            k += 1
        }
    }

    /// Forgets the notices held for session `session` (its peer restarted: they would reach a new run).
    func dropHeld(_ session: Int) {
        sessions[session].heldCount = 0
        sessions[session].heldDeadline = .max
    }

    @inline(__always)
    private func stampAndPush(_ message: inout Message, _ session: Int, _ outbox: Outbox, payloadOffset: Int) {
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
