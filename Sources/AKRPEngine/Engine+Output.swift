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
    ///
    /// A `reserve`, `confirm` or `fail` (no payload) waits instead, up to `frameHold`, for other messages to
    /// that neighbour while the link is busy and its key is not abundant (``holdsReservationMessages(_:)``,
    /// docs/PROTOCOL.md §3.5): the hold then costs little time and saves frames and their authentication
    /// key where key is what limits the link. Otherwise it leaves at once.
    @inline(__always)
    func send(_ message: inout Message, _ session: Int, _ outbox: Outbox, payloadOffset: Int = 0) {
        if message.payloadLength == 0 && (message.kind == .reserve || message.kind == .confirm || message.kind == .fail)
            && holdsReservationMessages(session) {
            return sendLater(&message, session, outbox, now: stepNow, hold: configuration.frameHold)
        }
        if sessions[session].heldCount > 0 { releaseHeld(session, outbox) }
        stampAndPush(&message, session, outbox, payloadOffset: payloadOffset)
    }

    /// Holds a message for session `session` until the next message to that neighbour, at most `hold`;
    /// sends it at once when `hold` is 0. Held are `delivered` notices nobody waits for (`deliveredHold`,
    /// docs/PROTOCOL.md §4.12), link-state announcements (`linkStateHold`, §3.4) and, on a busy link,
    /// reservation messages (`frameHold`, §3.5): holding is a longer link delay, which the protocol
    /// tolerates, and the per-link order is kept (held messages leave before any later one). A link-state
    /// announcement replaces a held one about the same link from the same origin (it is newer: older
    /// serials are never forwarded), so a level that changes twice within the hold costs one message.
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
        switch message.kind {
        case .linkState: counters.linkStatesHeld += 1
        case .delivered: counters.deliveredNoticesHeld += 1
        default: counters.reservationMessagesHeld += 1
        }
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
        noteFrame(session)
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

    /// Whether reservation messages to session `session` wait for company (`frameHold`, docs/PROTOCOL.md
    /// §3.5): the link is busy — its smoothed interval between frames is at most the hold, so company is
    /// likely within it — and its key is not abundant — less than ``abundantPoolFraction`` of the pool is
    /// delivered and free. A nearly full pool means key arrives faster than it is used: the key a frame
    /// spends there limits nothing, and the hold would only add latency.
    @inline(__always)
    func holdsReservationMessages(_ session: Int) -> Bool {
        let hold = configuration.frameHold
        return hold > 0 && Double(hold) >= sessions[session].frameInterval
            && Double(pools[session].availableDelivered) < Self.abundantPoolFraction * Double(configuration.poolCapacity)
    }

    /// Smooths the interval between frames to session `session` (weight 0.1, each interval capped at 1 s;
    /// messages sent in one engine call share a frame and count once). It starts at 1 s: a link is quiet
    /// until its traffic shows otherwise.
    @inline(__always)
    private func noteFrame(_ session: Int) {
        let last = sessions[session].lastFrameAt
        guard stepNow != last else { return }
        let gap = stepNow > last ? min(Double(stepNow - last), Self.quietFrameInterval) : Self.quietFrameInterval
        sessions[session].frameInterval += 0.1 * (gap - sessions[session].frameInterval)
        sessions[session].lastFrameAt = stepNow
    }
}
