/// Fine-grained competition at commit: yielding delivered units and adopting the committed list
/// (docs/PROTOCOL.md §7.6).
extension Engine {
    /// At commit, as the upstream end of session index `session`: when the branch completes later than
    /// `now + yieldMargin`, replace the delivered units it holds there by this end's own future units
    /// that still arrive before its ETA, freeing the delivered ones for requests that can complete now.
    /// The new list travels in the commit, which the downstream end processes before anything this end
    /// sends later on the link; units owned by this end are its to bind, units it gives up are freed at
    /// both ends. Returns how many delivered units were yielded.
    @discardableResult
    func yieldDeliveredUnits(_ slot: Int, _ session: Int, now: Nanoseconds) -> Int {
        guard configuration.yieldAtCommit else { return 0 }
        let due = records[slot].eta
        guard due > now &+ configuration.yieldMargin else { return 0 }
        let pool = pools[session]
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
        let limit = min(indexLimit(session, deadline: due, now: now), peerLimit(session))
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
        let holderToken = token(slot)
        i = 0
        while i < n {
            if pool.holder(picked[i]) != holderToken { pool.hold(picked[i], holder: holderToken, as: .bound) }
            i += 1
        }
        r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if u < pool.tail && pool.holder(u) == holderToken { pool.free(u) }
                u += 1
            }
            r += 1
        }
        records[slot].outUnits = runs
        counters.unitsYielded += UInt64(delivered)
        return delivered
    }

    /// At commit, as the downstream end of session index `session`: adopt the unit list the upstream end committed
    /// (it may have moved the branch to later units). Returns false when a unit cannot be bound here;
    /// the caller then gives the branch up.
    func adoptCommittedUnits(_ slot: Int, _ session: Int, _ units: UnitRuns) -> Bool {
        let old = records[slot].inUnits
        if units == old { return true }
        let pool = pools[session]
        let holderToken = token(slot)
        var ok = true
        var r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if pool.holder(u) != holderToken {
                    switch pool.state(u) {
                    case .available, .proposed:
                        if pool.inWindow(u) && !pool.ownsUnit(u) { pool.hold(u, holder: holderToken, as: .bound) } else { ok = false }
                    case .bound:
                        let other = Int(pool.holder(u)) - 1
                        if pool.ownsUnit(u) || (other >= 0 && records[other].state == .committed) {
                            ok = false
                        } else {
                            if other >= 0 { records[other].broken = true }
                            pool.hold(u, holder: holderToken, as: .bound)
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
                if !units.contains(u) && pool.holder(u) == holderToken { pool.free(u) }
                u += 1
            }
            r += 1
        }
        records[slot].inUnits = units
        return ok
    }
}
