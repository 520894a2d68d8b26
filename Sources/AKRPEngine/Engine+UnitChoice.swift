/// Choosing units at the upstream end of a link (docs/PROTOCOL.md §7.1), within the window the peer
/// announced (§7.5).
extension Engine {
    /// Chooses `count` free units on session index `session` for record `slot` as the link's upstream end, all with an
    /// ETA no later than `deadline`: own units first (bound at once), then the other end's delivered
    /// units, then the other end's future units (proposed; the owner decides).
    /// Returns the units, or the reason none fit.
    func chooseUnits(
        _ session: Int, slot: Int, count: Int, deadline: Nanoseconds, now: Nanoseconds
    ) -> (UnitRuns, FailReason) {
        let pool = pools[session]
        let limit = min(indexLimit(session, deadline: deadline, now: now), peerLimit(session))
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
        let authenticationFloor = sessions[session].authenticationSent
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
    func peerLimit(_ session: Int) -> UnitIndex {
        let w = sessions[session].peerWindowEnd
        // A hint at or below this end's head is stale (announced before this end moved on — a frame in
        // flight, or the other end not yet caught up): it would forbid every proposal. Own window instead;
        // units the other end cannot track are refused by it, never lost (§7.5).
        return w == 0 || w <= pools[session].head ? pools[session].windowEnd : w
    }

    /// Records the window end a peer announced in a reserve or confirm.
    @inline(__always)
    func notePeerWindow(_ session: Int, _ end: UInt64) {
        if end > sessions[session].peerWindowEnd { sessions[session].peerWindowEnd = end }
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
}
