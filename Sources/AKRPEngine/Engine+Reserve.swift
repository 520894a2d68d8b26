/// Reservation at the downstream end of a link: CD&R decides which proposed units the branch gets
/// (docs/PROTOCOL.md §7.2).
extension Engine {
    func handleReserve(_ m: Message, _ s: Int, now: Nanoseconds, outbox: Outbox) {
        guard let p = position(for: m, fromUpstream: true, outbox) else { return }
        guard Int(m.hop) == p - 1 else { return reject(.wrongHop, outbox) }
        guard m.size >= 1 && Int(m.size) <= configuration.maxRequestUnits else { return reject(.tooLarge, outbox) }
        guard m.units.unitCount == Int(m.size) else { return reject(.unitCountMismatch, outbox) }
        if let last = m.units.last, last >= pools[s].tail &+ 2 &* UInt64(configuration.poolCapacity) {
            return reject(.unitsOutsideWindow, outbox)
        }
        guard m.path.hops <= Path.maxHops else { return reject(.badPath, outbox) }
        guard recordIndex.find(m.request, m.branch) == nil else { return reject(.duplicateRequest, outbox) }
        var outSession = -1
        if p < m.path.hops {
            guard let o = session(of: m.path[p + 1]) else { return reject(.notOnPath, outbox) }
            outSession = o
        }
        notePeerWindow(s, m.index)
        guard let slot = allocateRecord(m, position: p) else {
            counters.failures[Int(FailReason.tableFull.rawValue)] += 1
            return replyFail(m, s, reason: .tableFull, outbox: outbox)
        }
        records[slot].inSession = Int16(s)
        records[slot].outSession = Int16(outSession)
        if p == m.path.hops {
            guard let a = accumulatorSlots.take() else {
                freeRecord(slot)
                counters.failures[Int(FailReason.tableFull.rawValue)] += 1
                return replyFail(m, s, reason: .tableFull, outbox: outbox)
            }
            records[slot].accumulator = Int16(a)
        }
        // CD&R at the downstream end.
        records[slot].windowAtAccept = pools[s].windowEnd
        let (final, why) = acceptUnits(m.units, s, slot: slot, size: Int(m.size), deadline: m.time, now: now)
        guard why == .none else {
            freeRecord(slot)
            counters.failures[Int(why.rawValue)] += 1
            return replyFail(m, s, reason: why, outbox: outbox)
        }
        records[slot].inUnits = final
        records[slot].eta = eta(of: final, s, now: now)
        records[slot].expiry = now &+ configuration.lease
        noteTimer(records[slot].expiry)
        if p == m.path.hops {
            records[slot].state = .confirmed
            var c = Message(kind: .confirm)
            c.request = m.request
            c.branch = m.branch
            c.hop = UInt8(p - 1)
            c.units = final
            c.time = records[slot].eta
            c.path = m.path
            c.size = m.size
            c.index = records[slot].windowAtAccept
            send(&c, s, outbox)
            return
        }
        guard sessions[outSession].up else {
            releaseUnits(&records[slot].inUnits, s, slot: slot)
            freeRecord(slot)
            counters.failures[Int(FailReason.linkDown.rawValue)] += 1
            return replyFail(m, s, reason: .linkDown, outbox: outbox)
        }
        let (out, why2) = chooseUnits(outSession, slot: slot, count: Int(m.size), deadline: m.time, now: now)
        guard why2 == .none else {
            releaseUnits(&records[slot].inUnits, s, slot: slot)
            freeRecord(slot)
            counters.failures[Int(why2.rawValue)] += 1
            return replyFail(m, s, reason: why2, outbox: outbox)
        }
        records[slot].outUnits = out
        records[slot].eta = max(records[slot].eta, eta(of: out, outSession, now: now))
        records[slot].state = .reserving
        var f = m
        f.hop = UInt8(p)
        f.units = out
        f.index = pools[outSession].windowEnd
        send(&f, outSession, outbox)
    }

    /// Downstream-end CD&R: binds the proposed units the rules allow and substitutes own units for
    /// the rest. Units owned by the upstream end are its decision: accepted unless they are gone here
    /// (then refused, and the upstream end discards them). Units owned here are granted when free.
    func acceptUnits(
        _ proposed: UnitRuns, _ s: Int, slot: Int, size: Int, deadline: Nanoseconds, now: Nanoseconds
    ) -> (UnitRuns, FailReason) {
        let pool = pools[s]
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
            let limit = min(indexLimit(s, deadline: deadline, now: now), peerLimit(s))
            var o = pool.nextAvailable(from: pool.head, owned: true, limit: limit)
            var reserved = 0
            let authenticationFloor = sessions[s].authenticationSent
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

    func replyFail(_ m: Message, _ s: Int, reason: FailReason, outbox: Outbox) {
        var f = Message(kind: .fail)
        f.request = m.request
        f.branch = m.branch
        f.hop = m.hop
        f.reason = reason.rawValue
        f.path = m.path
        send(&f, s, outbox)
    }
}
