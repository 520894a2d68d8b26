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
    /// for that neighbour (``sendLater(_:_:_:now:hold:)``) leave first, in the same engine call: they share
    /// the frame.
    @inline(__always)
    func send(_ message: inout Message, _ session: Int, _ outbox: Outbox, payloadOffset: Int = 0) {
        if sessions[session].heldCount > 0 { releaseHeld(session, outbox) }
        stampAndPush(&message, session, outbox, payloadOffset: payloadOffset)
    }

    /// Holds a message that changes no reservation state — a `delivered` notice nobody waits for
    /// (`deliveredHold`, docs/PROTOCOL.md §4.12) or a link-state announcement (`linkStateHold`, §3.4) — for
    /// session `session` until the next message to that neighbour, at most `hold`; sends it at once when
    /// `hold` is 0. A link-state announcement replaces a held one about the same link from the same origin
    /// (it is newer: older serials are never forwarded), so a level that changes twice within the hold
    /// costs one message.
    func sendLater(_ message: inout Message, _ session: Int, _ outbox: Outbox, now: Nanoseconds, hold: Nanoseconds) {
        guard hold > 0 else { return send(&message, session, outbox) }
        var count = sessions[session].heldCount
        let base = session * Self.heldMessagesPerLink
        if message.kind == .linkState {
            var k = 0
            while k < count {
                let m = held[base + k]
                if m.kind == .linkState && m.subject == message.subject && m.request.source == message.request.source {
                    held[base + k] = message
                    counters.linkStatesSuperseded += 1
                    return
                }
                k += 1
            }
        }
        if count == Self.heldMessagesPerLink {
            releaseHeld(session, outbox)
            count = 0
        }
        held[base + count] = message
        sessions[session].heldCount = count + 1
        if message.kind == .linkState { counters.linkStatesHeld += 1 } else { counters.deliveredNoticesHeld += 1 }
        let deadline = now &+ hold
        if count == 0 || deadline < sessions[session].heldDeadline {
            sessions[session].heldDeadline = deadline
            noteTimer(deadline)
        }
    }

    /// Sends every message held for session `session`, oldest first.
    func releaseHeld(_ session: Int, _ outbox: Outbox) {
        let count = sessions[session].heldCount
        sessions[session].heldCount = 0
        sessions[session].heldDeadline = .max
        var k = 0
        while k < count {
            stampAndPush(&held[session * Self.heldMessagesPerLink + k], session, outbox, payloadOffset: 0)
            k += 1
        }
    }

    /// Forgets the messages held for session `session` (its peer restarted: they would reach a new run).
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
