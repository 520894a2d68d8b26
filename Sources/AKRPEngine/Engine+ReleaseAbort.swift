/// Release and abort: giving a branch's units back, or asking whether it was committed (docs/PROTOCOL.md §8).
extension Engine {
    func handleRelease(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        guard let slot = record(for: message, fromUpstream: true, outbox) else { return }
        guard records[slot].state != .committed else { return reject(.wrongState, outbox) }
        // Upstream promised never to commit: our units of that link may be freed.
        releaseUnits(&records[slot].inUnits, session, slot: slot)
        terminate(slot, reason: .lostToOtherBranch, now: now, outbox: outbox)
    }

    func handleAbort(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        var reply = Message(kind: .abortReply)
        reply.request = message.request
        reply.branch = message.branch
        reply.hop = message.hop
        reply.path = message.path
        guard let slot = recordIndex.find(message.request, message.branch),
            Int(records[slot].outSession) == session, Int(records[slot].position) == Int(message.hop)
        else {
            reply.reason = AbortOutcome.unknown.rawValue
            send(&reply, session, outbox)
            return
        }
        if records[slot].state == .committed {
            reply.reason = AbortOutcome.committed.rawValue
            send(&reply, session, outbox)
            return
        }
        // Promise never to commit this branch: free our side and end the branch here.
        releaseUnits(&records[slot].outUnits, session, slot: slot)
        reply.reason = AbortOutcome.released.rawValue
        send(&reply, session, outbox)
        terminate(slot, reason: .leaseExpired, now: now, outbox: outbox)
    }

    func handleAbortReply(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        guard let slot = record(for: message, fromUpstream: true, outbox) else { return }
        guard records[slot].state == .aborting else { return reject(.wrongState, outbox) }
        if message.reason == AbortOutcome.released.rawValue {
            releaseUnits(&records[slot].inUnits, session, slot: slot)
        } else {
            discardUnits(&records[slot].inUnits, session, slot: slot)
        }
        freeRecord(slot)
    }
}
