/// Freeing and discarding the units a record holds on a link, with the discard counter.
extension Engine {
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
