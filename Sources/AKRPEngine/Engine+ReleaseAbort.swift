/// Release and abort: giving a branch's units back, or asking whether it was committed (docs/PROTOCOL.md §8).
extension Engine {
    func handleRelease(_ m: Message, _ s: Int, now: Nanoseconds, outbox: Outbox) {
        guard let slot = record(for: m, fromUpstream: true, outbox) else { return }
        guard records[slot].state != .committed else { return reject(.wrongState, outbox) }
        // Upstream promised never to commit: our units of that link may be freed.
        releaseUnits(&records[slot].inUnits, s, slot: slot)
        terminate(slot, reason: .lostToOtherBranch, now: now, outbox: outbox)
    }

    func handleAbort(_ m: Message, _ s: Int, now: Nanoseconds, outbox: Outbox) {
        var reply = Message(kind: .abortReply)
        reply.request = m.request
        reply.branch = m.branch
        reply.hop = m.hop
        reply.path = m.path
        guard let slot = recordIndex.find(m.request, m.branch),
            Int(records[slot].outSession) == s, Int(records[slot].position) == Int(m.hop)
        else {
            reply.reason = AbortOutcome.unknown.rawValue
            send(&reply, s, outbox)
            return
        }
        if records[slot].state == .committed {
            reply.reason = AbortOutcome.committed.rawValue
            send(&reply, s, outbox)
            return
        }
        // Promise never to commit this branch: free our side and end the branch here.
        releaseUnits(&records[slot].outUnits, s, slot: slot)
        reply.reason = AbortOutcome.released.rawValue
        send(&reply, s, outbox)
        terminate(slot, reason: .leaseExpired, now: now, outbox: outbox)
    }

    func handleAbortReply(_ m: Message, _ s: Int, now: Nanoseconds, outbox: Outbox) {
        guard let slot = record(for: m, fromUpstream: true, outbox) else { return }
        guard records[slot].state == .aborting else { return reject(.wrongState, outbox) }
        if m.reason == AbortOutcome.released.rawValue {
            releaseUnits(&records[slot].inUnits, s, slot: slot)
        } else {
            discardUnits(&records[slot].inUnits, s, slot: slot)
        }
        freeRecord(slot)
    }
}
