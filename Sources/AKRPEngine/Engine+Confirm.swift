/// Confirm and fail at the upstream end of a link: binding the final units (docs/PROTOCOL.md §7.3).
extension Engine {
    func handleConfirm(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        guard let slot = record(for: message, fromUpstream: false, outbox) else { return }
        guard records[slot].state == .reserving, Int(records[slot].outSession) == session else {
            return reject(.wrongState, outbox)
        }
        guard message.units.unitCount == Int(records[slot].size) else { return reject(.unitCountMismatch, outbox) }
        notePeerWindow(session, message.index)
        let pool = pools[session]
        let holderToken = token(slot)
        var consistent = true
        // Bind the final units; the downstream end decided the ones it owns.
        var r = 0
        while r < Int(message.units.runCount) {
            let run = message.units[r]
            var u = run.start
            while u < run.end {
                let st = pool.state(u)
                if !pool.inWindow(u) || st == .consumed || st == .discarded {
                    consistent = false
                } else if pool.ownsUnit(u) {
                    if !(st == .bound && pool.holder(u) == holderToken) { consistent = false }
                } else if pool.holder(u) != holderToken {
                    if st == .bound {
                        let other = Int(pool.holder(u)) - 1
                        if other >= 0 && records[other].state == .committed {
                            consistent = false
                        } else {
                            if other >= 0 { records[other].broken = true }
                            counters.conflictsResolved += 1
                            pool.hold(u, holder: holderToken, as: .bound)
                        }
                    } else {
                        if st == .proposed { counters.conflictsResolved += 1 }
                        pool.hold(u, holder: holderToken, as: .bound)
                    }
                } else {
                    pool.hold(u, holder: holderToken, as: .bound)
                }
                u += 1
            }
            r += 1
        }
        // Units we chose that did not make it: the peer's are freed (its decision); ours were refused
        // by the peer (gone there) and are discarded.
        let old = records[slot].outUnits
        r = 0
        while r < Int(old.runCount) {
            let run = old[r]
            var u = run.start
            while u < run.end {
                if !message.units.contains(u) && pool.holder(u) == holderToken {
                    // A refused unit of ours is gone at the peer — unless it lies past the window the
                    // peer could track, where the peer has never seen it.
                    if pool.ownsUnit(u) && (message.index == 0 || u < message.index) { discardUnit(u, session) } else { pool.free(u) }
                }
                u += 1
            }
            r += 1
        }
        records[slot].outUnits = message.units
        #if AKRP_MUTATIONS
        if mutation == .keepsProposedUnits { records[slot].outUnits = old }
        #endif
        guard consistent && !records[slot].broken else {
            return terminate(slot, reason: .unitsDiscarded, now: now, outbox: outbox)
        }
        records[slot].eta = max(records[slot].eta, message.time)
        records[slot].state = .confirmed
        if records[slot].isSource {
            branchConfirmed(slot, now: now, outbox: outbox)
            return
        }
        records[slot].expiry = now &+ configuration.lease
        noteTimer(records[slot].expiry)
        var c = Message(kind: .confirm)
        c.request = message.request
        c.branch = message.branch
        c.hop = records[slot].position - 1
        c.units = records[slot].inUnits
        c.time = records[slot].eta
        c.path = records[slot].path
        c.size = records[slot].size
        c.index = records[slot].windowAtAccept
        send(&c, Int(records[slot].inSession), outbox)
    }

    func handleFail(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        guard let slot = record(for: message, fromUpstream: false, outbox) else { return }
        guard records[slot].state == .reserving, Int(records[slot].outSession) == session else {
            return reject(.wrongState, outbox)
        }
        // The downstream end never confirmed, so nobody upstream committed: free what we hold there.
        releaseUnits(&records[slot].outUnits, session, slot: slot)
        let reason = FailReason(rawValue: message.reason) ?? .none
        terminate(slot, reason: reason, now: now, outbox: outbox)
    }
}
