/// Reservation at the downstream end of a link: CD&R decides which proposed units the branch gets
/// (docs/PROTOCOL.md §7.2).
extension Engine {
    func handleReserve(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        guard let p = position(for: message, fromUpstream: true, outbox) else { return }
        guard Int(message.hop) == p - 1 else { return reject(.wrongHop, outbox) }
        guard message.size >= 1 && Int(message.size) <= configuration.maxRequestUnits else { return reject(.tooLarge, outbox) }
        guard message.units.unitCount == Int(message.size) else { return reject(.unitCountMismatch, outbox) }
        if let last = message.units.last, last >= pools[session].tail &+ 2 &* UInt64(configuration.poolCapacity) {
            return reject(.unitsOutsideWindow, outbox)
        }
        guard message.path.hops <= Path.maxHops else { return reject(.badPath, outbox) }
        guard recordIndex.find(message.request, message.branch) == nil else { return reject(.duplicateRequest, outbox) }
        var outSession = -1
        if p < message.path.hops {
            guard let o = self.session(of: message.path[p + 1]) else { return reject(.notOnPath, outbox) }
            outSession = o
        }
        notePeerWindow(session, message.index)
        guard let slot = allocateRecord(message, position: p) else {
            counters.failures[Int(FailReason.tableFull.rawValue)] += 1
            return replyFail(message, session, reason: .tableFull, outbox: outbox)
        }
        records[slot].inSession = Int16(session)
        records[slot].outSession = Int16(outSession)
        if p == message.path.hops {
            guard let a = accumulatorSlots.take() else {
                freeRecord(slot)
                counters.failures[Int(FailReason.tableFull.rawValue)] += 1
                return replyFail(message, session, reason: .tableFull, outbox: outbox)
            }
            records[slot].accumulator = Int16(a)
        }
        // CD&R at the downstream end.
        records[slot].windowAtAccept = pools[session].windowEnd
        let (final, why) = acceptUnits(message.units, session, slot: slot, size: Int(message.size), deadline: message.time, now: now)
        guard why == .none else {
            freeRecord(slot)
            counters.failures[Int(why.rawValue)] += 1
            return replyFail(message, session, reason: why, outbox: outbox)
        }
        records[slot].inUnits = final
        records[slot].eta = eta(of: final, session, now: now)
        records[slot].expiry = now &+ configuration.lease
        noteTimer(records[slot].expiry)
        if p == message.path.hops {
            records[slot].state = .confirmed
            var c = Message(kind: .confirm)
            c.request = message.request
            c.branch = message.branch
            c.hop = UInt8(p - 1)
            c.units = final
            c.time = records[slot].eta
            c.path = message.path
            c.size = message.size
            c.index = records[slot].windowAtAccept
            send(&c, session, outbox)
            return
        }
        guard sessions[outSession].up else {
            releaseUnits(&records[slot].inUnits, session, slot: slot)
            freeRecord(slot)
            counters.failures[Int(FailReason.linkDown.rawValue)] += 1
            return replyFail(message, session, reason: .linkDown, outbox: outbox)
        }
        let (out, why2) = chooseUnits(outSession, slot: slot, count: Int(message.size), deadline: message.time, now: now)
        guard why2 == .none else {
            releaseUnits(&records[slot].inUnits, session, slot: slot)
            freeRecord(slot)
            counters.failures[Int(why2.rawValue)] += 1
            return replyFail(message, session, reason: why2, outbox: outbox)
        }
        records[slot].outUnits = out
        records[slot].eta = max(records[slot].eta, eta(of: out, outSession, now: now))
        records[slot].state = .reserving
        var f = message
        f.hop = UInt8(p)
        f.units = out
        f.index = pools[outSession].windowEnd
        send(&f, outSession, outbox)
    }

    /// Downstream-end CD&R: binds the proposed units the rules allow and substitutes own units for
    /// the rest. Units owned by the upstream end are its decision: accepted unless they are gone here
    /// (then refused, and the upstream end discards them). Units owned here are granted when free.
    func acceptUnits(
        _ proposed: UnitRuns, _ session: Int, slot: Int, size: Int, deadline: Nanoseconds, now: Nanoseconds
    ) -> (UnitRuns, FailReason) {
        let pool = pools[session]
        var picked = InlineArray<256, UInt64>(repeating: 0)
        var n = 0
        var r = 0
        while r < Int(proposed.runCount) {
            let run = proposed[r]
            var u = run.start
            while u < run.end {
                if takeUnit(u, pool: pool, slot: slot) {
                    picked[n] = u
                    n += 1
                }
                u += 1
            }
            r += 1
        }
        if n < size {
            // Substitute own units (no conflict possible: this end decides them).
            // Never past the window the upstream end can track: it would have to refuse them.
            let limit = min(indexLimit(session, deadline: deadline, now: now), peerLimit(session))
            var o = pool.nextAvailable(from: pool.head, owned: true, limit: limit)
            var reserved = 0
            let authenticationFloor = sessions[session].authenticationSent
            while n < size, let u = o {
                if u < pool.tail && u > authenticationFloor && reserved < configuration.authenticationReserve {
                    reserved += 1
                    o = pool.nextAvailable(from: u + 1, owned: true, limit: limit)
                    continue
                }
                pool.hold(u, holder: token(slot), as: .bound)
                picked[n] = u
                n += 1
                counters.unitsSubstituted += 1
                o = pool.nextAvailable(from: u + 1, owned: true, limit: limit)
            }
        }
        sortPrefix(&picked, n)
        var runs = UnitRuns()
        var failed: FailReason = n == size ? .none : .noKeyWithinBudget
        var i = 0
        while i < n && failed == .none {
            do throws(UnitRunsError) { try runs.append(picked[i]) } catch { failed = .fragmented }
            i += 1
        }
        if failed != .none {
            i = 0
            while i < n {
                if pool.holder(picked[i]) == token(slot) { pool.free(picked[i]) }
                i += 1
            }
            return (UnitRuns(), failed)
        }
        return (runs, .none)
    }

    /// Takes one proposed unit for `slot` at the downstream end if the rules allow.
    func takeUnit(_ u: UnitIndex, pool: KeyPool, slot: Int) -> Bool {
        guard pool.inWindow(u) else { return false }
        let st = pool.state(u)
        if pool.ownsUnit(u) {
            // Our unit, proposed by the peer: granted only when free.
            #if AKRP_MUTATIONS
            if mutation == .ownerGrantsBoundUnit && st == .bound {
                pool.hold(u, holder: token(slot), as: .bound)
                return true
            }
            #endif
            guard st == .available else { return false }
            pool.hold(u, holder: token(slot), as: .bound)
            return true
        }
        // The peer's unit: the peer's binding wins over our own proposal or stale binding.
        switch st {
        case .available:
            pool.hold(u, holder: token(slot), as: .bound)
            return true
        case .proposed:
            counters.conflictsResolved += 1
            pool.hold(u, holder: token(slot), as: .bound)
            return true
        case .bound:
            let other = Int(pool.holder(u)) - 1
            if other >= 0 && records[other].state == .committed { return false }
            if other >= 0 { records[other].broken = true }
            counters.conflictsResolved += 1
            pool.hold(u, holder: token(slot), as: .bound)
            return true
        case .consumed, .discarded:
            return false
        }
    }

    func replyFail(_ message: Message, _ session: Int, reason: FailReason, outbox: Outbox) {
        var f = Message(kind: .fail)
        f.request = message.request
        f.branch = message.branch
        f.hop = message.hop
        f.reason = reason.rawValue
        f.path = message.path
        send(&f, session, outbox)
    }
}
