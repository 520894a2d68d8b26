/// Reservation: choosing units (upstream end), CD&R at the downstream end, confirm, fail, release, abort.
extension Engine {
    /// Chooses `count` free units on session `s` for record `slot` as the link's upstream end, all with an
    /// ETA no later than `deadline`: own units first (bound at once), then the other end's delivered
    /// units, then the other end's future units (proposed; the owner decides).
    /// Returns the units, or the reason none fit.
    func chooseUnits(
        _ s: Int, slot: Int, count: Int, deadline: Nanoseconds, now: Nanoseconds
    ) -> (UnitRuns, FailReason) {
        let pool = pools[s]
        let limit = min(indexLimit(s, deadline: deadline, now: now), peerLimit(s))
        var picked = InlineArray<256, UInt64>(repeating: 0)
        var n = 0
        // Pass 1: own units anywhere within the limit, and the other end's delivered units, in index order.
        var own = pool.nextAvailable(from: pool.head, owned: true, limit: limit)
        var other =
            configuration.borrowing ? pool.nextAvailable(from: pool.head, owned: false, limit: min(limit, pool.tail)) : nil
        // The first own delivered units that authentication can still take (above the last unit it used)
        // stay free for authenticating frames; units below that point are for requests, or nothing would
        // ever use them and they would pin the pool's head.
        var reserved = 0
        let authenticationFloor = sessions[s].authenticationSent
        while n < count {
            if let o = own, other == nil || o < other! {
                own = pool.nextAvailable(from: o + 1, owned: true, limit: limit)
                if o < pool.tail && o > authenticationFloor && reserved < configuration.authenticationReserve {
                    reserved += 1
                    continue
                }
                picked[n] = o
                n += 1
            } else if let t = other {
                picked[n] = t
                n += 1
                other = pool.nextAvailable(from: t + 1, owned: false, limit: min(limit, pool.tail))
            } else {
                break
            }
        }
        // Pass 2: the other end's future units.
        if n < count && configuration.borrowing {
            var t = pool.nextAvailable(from: max(pool.tail, pool.head), owned: false, limit: limit)
            while n < count, let u = t {
                picked[n] = u
                n += 1
                t = pool.nextAvailable(from: u + 1, owned: false, limit: limit)
            }
        }
        guard n == count else { return (UnitRuns(), .noKeyWithinBudget) }
        sortPrefix(&picked, n)
        var runs = UnitRuns()
        var i = 0
        while i < n {
            do throws(UnitRunsError) { try runs.append(picked[i]) } catch { return (UnitRuns(), .fragmented) }
            i += 1
        }
        i = 0
        while i < n {
            let u = picked[i]
            pool.hold(u, holder: token(slot), as: pool.ownsUnit(u) ? .bound : .proposed)
            i += 1
        }
        return (runs, .none)
    }

    /// Units at or past this index cannot be tracked by the peer yet: never propose them.
    @inline(__always)
    func peerLimit(_ s: Int) -> UnitIndex {
        let w = sessions[s].peerWindowEnd
        // A hint at or below this end's head is stale (announced before this end moved on — a frame in
        // flight, or the other end not yet caught up): it would forbid every proposal. Own window instead;
        // units the other end cannot track are refused by it, never lost (§7.5).
        return w == 0 || w <= pools[s].head ? pools[s].windowEnd : w
    }

    /// Records the window end a peer announced in a reserve or confirm.
    @inline(__always)
    func notePeerWindow(_ s: Int, _ end: UInt64) {
        if end > sessions[s].peerWindowEnd { sessions[s].peerWindowEnd = end }
    }

    @inline(__always)
    func sortPrefix(_ a: inout InlineArray<256, UInt64>, _ n: Int) {
        var i = 1
        while i < n {
            let x = a[i]
            var j = i - 1
            while j >= 0 && a[j] > x {
                a[j + 1] = a[j]
                j -= 1
            }
            a[j + 1] = x
            i += 1
        }
    }

    /// Validates a message that names a request branch against the path: the sender must be the
    /// neighbour on the expected side. Returns this node's position.
    func position(for m: Message, fromUpstream: Bool, _ outbox: Outbox) -> Int? {
        do throws(PathError) { try m.path.validate() } catch {
            reject(.badPath, outbox)
            return nil
        }
        guard let p = m.path.position(of: node) else {
            reject(.notOnPath, outbox)
            return nil
        }
        if fromUpstream {
            guard p >= 1, m.path[p - 1] == m.from else {
                reject(.notOnPath, outbox)
                return nil
            }
        } else {
            guard p < m.path.hops, m.path[p + 1] == m.from else {
                reject(.notOnPath, outbox)
                return nil
            }
        }
        return p
    }

    /// Looks up the record of a message and checks it matches this neighbour's side.
    func record(for m: Message, fromUpstream: Bool, _ outbox: Outbox) -> Int? {
        guard let slot = recordIndex.find(m.request, m.branch) else {
            reject(.unknownRequest, outbox)
            return nil
        }
        let r = records[slot]
        let p = Int(r.position)
        if fromUpstream {
            guard p >= 1, r.path[p - 1] == m.from, Int(m.hop) == p - 1 else {
                reject(.wrongHop, outbox)
                return nil
            }
        } else {
            guard p < r.path.hops, r.path[p + 1] == m.from, Int(m.hop) == p else {
                reject(.wrongHop, outbox)
                return nil
            }
        }
        return slot
    }

    // MARK: reserve (downstream end)

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

    // MARK: confirm / fail (upstream end)

    func handleConfirm(_ m: Message, _ s: Int, now: Nanoseconds, outbox: Outbox) {
        guard let slot = record(for: m, fromUpstream: false, outbox) else { return }
        guard records[slot].state == .reserving, Int(records[slot].outSession) == s else {
            return reject(.wrongState, outbox)
        }
        guard m.units.unitCount == Int(records[slot].size) else { return reject(.unitCountMismatch, outbox) }
        notePeerWindow(s, m.index)
        let pool = pools[s]
        let tk = token(slot)
        var consistent = true
        // Bind the final units; the downstream end decided the ones it owns.
        var r = 0
        while r < Int(m.units.runCount) {
            var u = m.units[r].start
            while u < m.units[r].end {
                let st = pool.state(u)
                if !pool.inWindow(u) || st == .consumed || st == .discarded {
                    consistent = false
                } else if pool.ownsUnit(u) {
                    if !(st == .bound && pool.holder(u) == tk) { consistent = false }
                } else if pool.holder(u) != tk {
                    if st == .bound {
                        let other = Int(pool.holder(u)) - 1
                        if other >= 0 && records[other].state == .committed {
                            consistent = false
                        } else {
                            if other >= 0 { records[other].broken = true }
                            counters.conflictsResolved += 1
                            pool.hold(u, holder: tk, as: .bound)
                        }
                    } else {
                        if st == .proposed { counters.conflictsResolved += 1 }
                        pool.hold(u, holder: tk, as: .bound)
                    }
                } else {
                    pool.hold(u, holder: tk, as: .bound)
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
            var u = old[r].start
            while u < old[r].end {
                if !m.units.contains(u) && pool.holder(u) == tk {
                    // A refused unit of ours is gone at the peer — unless it lies past the window the
                    // peer could track, where the peer has never seen it.
                    if pool.ownsUnit(u) && (m.index == 0 || u < m.index) { discardUnit(u, s) } else { pool.free(u) }
                }
                u += 1
            }
            r += 1
        }
        records[slot].outUnits = m.units
        #if AKRP_MUTATIONS
        if mutation == .keepsProposedUnits { records[slot].outUnits = old }
        #endif
        guard consistent && !records[slot].broken else {
            return terminate(slot, reason: .unitsDiscarded, now: now, outbox: outbox)
        }
        records[slot].eta = max(records[slot].eta, m.time)
        records[slot].state = .confirmed
        if records[slot].isSource {
            branchConfirmed(slot, now: now, outbox: outbox)
            return
        }
        records[slot].expiry = now &+ configuration.lease
        noteTimer(records[slot].expiry)
        var c = Message(kind: .confirm)
        c.request = m.request
        c.branch = m.branch
        c.hop = records[slot].position - 1
        c.units = records[slot].inUnits
        c.time = records[slot].eta
        c.path = records[slot].path
        c.size = records[slot].size
        c.index = records[slot].windowAtAccept
        send(&c, Int(records[slot].inSession), outbox)
    }

    func handleFail(_ m: Message, _ s: Int, now: Nanoseconds, outbox: Outbox) {
        guard let slot = record(for: m, fromUpstream: false, outbox) else { return }
        guard records[slot].state == .reserving, Int(records[slot].outSession) == s else {
            return reject(.wrongState, outbox)
        }
        // The downstream end never confirmed, so nobody upstream committed: free what we hold there.
        releaseUnits(&records[slot].outUnits, s, slot: slot)
        let reason = FailReason(rawValue: m.reason) ?? .none
        terminate(slot, reason: reason, now: now, outbox: outbox)
    }

    // MARK: release / abort

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

    // MARK: fine-grained competition

    /// At commit, as the upstream end of session `s`: when the branch completes later than
    /// `now + yieldMargin`, replace the delivered units it holds there by this end's own future units
    /// that still arrive before its ETA, freeing the delivered ones for requests that can complete now.
    /// The new list travels in the commit, which the downstream end processes before anything this end
    /// sends later on the link; units owned by this end are its to bind, units it gives up are freed at
    /// both ends. Returns how many delivered units were yielded.
    @discardableResult
    func yieldDeliveredUnits(_ slot: Int, _ s: Int, now: Nanoseconds) -> Int {
        guard configuration.yieldAtCommit else { return 0 }
        let due = records[slot].eta
        guard due > now &+ configuration.yieldMargin else { return 0 }
        let pool = pools[s]
        let units = records[slot].outUnits
        guard let first = units.unit(at: 0), first < pool.tail else { return 0 }
        let size = units.unitCount
        var picked = InlineArray<256, UInt64>(repeating: 0)
        var n = 0
        var delivered = 0
        // Keep the units that are still in the future.
        var r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if u >= pool.tail {
                    picked[n] = u
                    n += 1
                } else {
                    delivered += 1
                }
                u += 1
            }
            r += 1
        }
        guard delivered > 0 else { return 0 }
        // Replace the delivered ones by own future units that arrive in time.
        let limit = min(indexLimit(s, deadline: due, now: now), peerLimit(s))
        var c = pool.nextAvailable(from: pool.tail, owned: true, limit: limit)
        while n < size, let u = c {
            picked[n] = u
            n += 1
            c = pool.nextAvailable(from: u + 1, owned: true, limit: limit)
        }
        guard n == size else { return 0 }
        sortPrefix(&picked, n)
        var runs = UnitRuns()
        var i = 0
        while i < n {
            do throws(UnitRunsError) { try runs.append(picked[i]) } catch { return 0 }
            i += 1
        }
        let tk = token(slot)
        i = 0
        while i < n {
            if pool.holder(picked[i]) != tk { pool.hold(picked[i], holder: tk, as: .bound) }
            i += 1
        }
        r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if u < pool.tail && pool.holder(u) == tk { pool.free(u) }
                u += 1
            }
            r += 1
        }
        records[slot].outUnits = runs
        counters.unitsYielded += UInt64(delivered)
        return delivered
    }

    /// At commit, as the downstream end of session `s`: adopt the unit list the upstream end committed
    /// (it may have moved the branch to later units). Returns false when a unit cannot be bound here;
    /// the caller then gives the branch up.
    func adoptCommittedUnits(_ slot: Int, _ s: Int, _ units: UnitRuns) -> Bool {
        let old = records[slot].inUnits
        if units == old { return true }
        let pool = pools[s]
        let tk = token(slot)
        var ok = true
        var r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if pool.holder(u) != tk {
                    switch pool.state(u) {
                    case .available, .proposed:
                        if pool.inWindow(u) && !pool.ownsUnit(u) { pool.hold(u, holder: tk, as: .bound) } else { ok = false }
                    case .bound:
                        let other = Int(pool.holder(u)) - 1
                        if pool.ownsUnit(u) || (other >= 0 && records[other].state == .committed) {
                            ok = false
                        } else {
                            if other >= 0 { records[other].broken = true }
                            pool.hold(u, holder: tk, as: .bound)
                        }
                    case .consumed, .discarded:
                        ok = false
                    }
                }
                u += 1
            }
            r += 1
        }
        r = 0
        while r < Int(old.runCount) {
            var u = old[r].start
            while u < old[r].end {
                if !units.contains(u) && pool.holder(u) == tk { pool.free(u) }
                u += 1
            }
            r += 1
        }
        records[slot].inUnits = units
        return ok
    }

    // MARK: unit bookkeeping

    /// Frees the units of `units` that `slot` holds on session `s` and clears the list.
    func releaseUnits(_ units: inout UnitRuns, _ s: Int, slot: Int) {
        #if AKRP_MUTATIONS
        if mutation == .leaksReleasedUnits {
            units = UnitRuns()
            return
        }
        if mutation == .discardsReleasedUnits { return discardUnits(&units, s, slot: slot) }
        #endif
        let pool = pools[s]
        let tk = token(slot)
        var r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if pool.holder(u) == tk { pool.free(u) }
                u += 1
            }
            r += 1
        }
        units = UnitRuns()
    }

    /// Discards the units of `units` that `slot` holds on session `s` and clears the list.
    func discardUnits(_ units: inout UnitRuns, _ s: Int, slot: Int) {
        let pool = pools[s]
        let tk = token(slot)
        var n = 0
        var r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if pool.holder(u) == tk {
                    pool.discard(u)
                    n += 1
                }
                u += 1
            }
            r += 1
        }
        units = UnitRuns()
        noteDiscarded(n, s)
    }

    func discardUnit(_ u: UnitIndex, _ s: Int) {
        pools[s].discard(u)
        noteDiscarded(1, s)
    }

    private func noteDiscarded(_ n: Int, _ s: Int) {
        counters.unitsDiscarded += UInt64(n)
    }
}
