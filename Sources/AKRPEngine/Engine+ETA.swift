/// The ETA model: when a link's future units arrive, learnt from its delivery pattern (docs/PROTOCOL.md §10.1).
extension Engine {
    /// ETA of a unit at this end of session index `session`.
    @inline(__always)
    func eta(of u: UnitIndex, _ session: Int, now: Nanoseconds) -> Nanoseconds {
        let pool = pools[session]
        if u < pool.tail { return now }
        let ahead = Double(u - pool.tail + 1)
        if sessions[session].deliveries >= 4 && sessions[session].blockUnits >= 1 {
            // Key arrives in blocks: the unit comes with the k-th next block.
            let k = (ahead / sessions[session].blockUnits).rounded(.up)
            // Optionally plan with a late block: the period plus some of its typical deviation.
            let period = sessions[session].blockPeriod + configuration.etaDeviations * sessions[session].blockDeviation
            let at = Double(sessions[session].lastDeliveryAt) + k * period
            return max(now, Nanoseconds(min(at, 1e18)))
        }
        return now &+ Nanoseconds(min(ahead * sessions[session].unitInterval, 1e18))
    }

    /// Learns the link's delivery pattern (block size and period, smoothed) from a delivery of `n` units.
    @inline(__always)
    func noteDelivery(_ session: Int, units n: Int, now: Nanoseconds) {
        let d = sessions[session].deliveries
        if d > 0 && now > sessions[session].lastDeliveryAt {
            let interval = Double(now - sessions[session].lastDeliveryAt)
            if d == 1 {
                sessions[session].blockPeriod = interval
                sessions[session].blockUnits = Double(n)
            } else {
                sessions[session].blockDeviation += 0.2 * (abs(interval - sessions[session].blockPeriod) - sessions[session].blockDeviation)
                sessions[session].blockPeriod += 0.2 * (interval - sessions[session].blockPeriod)
                sessions[session].blockUnits += 0.2 * (Double(n) - sessions[session].blockUnits)
            }
        }
        if now > sessions[session].lastDeliveryAt || d == 0 {
            sessions[session].lastDeliveryAt = now
            sessions[session].deliveries = d &+ 1
        } else {
            // Several deliveries at one instant form one block.
            sessions[session].blockUnits += 0.2 * Double(n)
        }
    }

    func eta(of units: UnitRuns, _ session: Int, now: Nanoseconds) -> Nanoseconds {
        guard let last = units.last else { return now }
        return eta(of: last, session, now: now)
    }

    /// The first unit index whose ETA is later than `deadline`.
    @inline(__always)
    func indexLimit(_ session: Int, deadline: Nanoseconds, now: Nanoseconds) -> UnitIndex {
        let pool = pools[session]
        guard deadline > now else {
            // Past the deadline (a detour's is its arrival plus `detourBudget`): delivered key only, and only
            // while the link keeps `detourReserve` of a key block free (docs/PROTOCOL.md §10.1).
            let keep = configuration.detourReserve * sessions[session].blockUnits
            return Double(pool.availableDelivered) >= keep ? pool.tail : pool.head
        }
        var span: Double
        if sessions[session].deliveries >= 4 && sessions[session].blockUnits >= 1 && sessions[session].blockPeriod > 0 {
            let period = sessions[session].blockPeriod + configuration.etaDeviations * sessions[session].blockDeviation
            let blocks = (Double(deadline) - Double(sessions[session].lastDeliveryAt)) / period
            span = blocks.rounded(.down) * sessions[session].blockUnits
        } else if configuration.nominalRateBeforePattern {
            span = Double(deadline - now) / sessions[session].unitInterval
        } else {
            return pool.tail
        }
        let ahead = span >= 1e15 ? UInt64(1e15) : (span > 0 ? UInt64(span) : 0)
        return min(pool.windowEnd, pool.tail &+ ahead)
    }

    /// Whether every unit of `units` is delivered at session index `session`.
    @inline(__always)
    func delivered(_ units: UnitRuns, _ session: Int) -> Bool {
        guard let last = units.last else { return true }
        return pools[session].isDelivered(last)
    }
}
