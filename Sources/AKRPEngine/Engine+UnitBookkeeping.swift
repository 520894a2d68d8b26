/// Freeing and discarding the units a record holds on a link, with the discard counter.
extension Engine {
    /// Frees the units of `units` that `slot` holds on session index `session` and clears the list.
    func releaseUnits(_ units: inout UnitRuns, _ session: Int, slot: Int) {
        #if AKRP_MUTATIONS
        if mutation == .leaksReleasedUnits {
            units = UnitRuns()
            return
        }
        if mutation == .discardsReleasedUnits { return discardUnits(&units, session, slot: slot) }
        #endif
        let pool = pools[session]
        let holderToken = token(slot)
        var r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if pool.holder(u) == holderToken { pool.free(u) }
                u += 1
            }
            r += 1
        }
        units = UnitRuns()
    }

    /// Discards the units of `units` that `slot` holds on session index `session` and clears the list.
    func discardUnits(_ units: inout UnitRuns, _ session: Int, slot: Int) {
        let pool = pools[session]
        let holderToken = token(slot)
        var n = 0
        var r = 0
        while r < Int(units.runCount) {
            var u = units[r].start
            while u < units[r].end {
                if pool.holder(u) == holderToken {
                    pool.discard(u)
                    n += 1
                }
                u += 1
            }
            r += 1
        }
        units = UnitRuns()
        noteDiscarded(n, session)
    }

    func discardUnit(_ u: UnitIndex, _ session: Int) {
        pools[session].discard(u)
        noteDiscarded(1, session)
    }

    private func noteDiscarded(_ n: Int, _ session: Int) {
        counters.unitsDiscarded += UInt64(n)
    }
}
