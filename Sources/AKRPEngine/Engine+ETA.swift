/// The ETA model: when a link's future units arrive, learnt from its delivery pattern (docs/PROTOCOL.md §10.1).
extension Engine {
    /// ETA of a unit at this end of session `s`.
    @inline(__always)
    func eta(of u: UnitIndex, _ s: Int, now: Nanoseconds) -> Nanoseconds {
        let pool = pools[s]
        if u < pool.tail { return now }
        let ahead = Double(u - pool.tail + 1)
        if sessions[s].deliveries >= 4 && sessions[s].blockUnits >= 1 {
            // Key arrives in blocks: the unit comes with the k-th next block.
            let k = (ahead / sessions[s].blockUnits).rounded(.up)
            // Optionally plan with a late block: the period plus some of its typical deviation.
            let period = sessions[s].blockPeriod + configuration.etaDeviations * sessions[s].blockDeviation
            let at = Double(sessions[s].lastDeliveryAt) + k * period
            return max(now, Nanoseconds(min(at, 1e18)))
        }
        return now &+ Nanoseconds(min(ahead * sessions[s].unitInterval, 1e18))
    }

    /// Learns the link's delivery pattern (block size and period, smoothed) from a delivery of `n` units.
    @inline(__always)
    func noteDelivery(_ s: Int, units n: Int, now: Nanoseconds) {
        let d = sessions[s].deliveries
        if d > 0 && now > sessions[s].lastDeliveryAt {
            let interval = Double(now - sessions[s].lastDeliveryAt)
            if d == 1 {
                sessions[s].blockPeriod = interval
                sessions[s].blockUnits = Double(n)
            } else {
                sessions[s].blockDeviation += 0.2 * (abs(interval - sessions[s].blockPeriod) - sessions[s].blockDeviation)
                sessions[s].blockPeriod += 0.2 * (interval - sessions[s].blockPeriod)
                sessions[s].blockUnits += 0.2 * (Double(n) - sessions[s].blockUnits)
            }
        }
        if now > sessions[s].lastDeliveryAt || d == 0 {
            sessions[s].lastDeliveryAt = now
            sessions[s].deliveries = d &+ 1
        } else {
            // Several deliveries at one instant form one block.
            sessions[s].blockUnits += 0.2 * Double(n)
        }
    }

    func eta(of units: UnitRuns, _ s: Int, now: Nanoseconds) -> Nanoseconds {
        guard let last = units.last else { return now }
        return eta(of: last, s, now: now)
    }

    /// The first unit index whose ETA is later than `deadline`.
    @inline(__always)
    func indexLimit(_ s: Int, deadline: Nanoseconds, now: Nanoseconds) -> UnitIndex {
        let pool = pools[s]
        guard deadline > now else { return pool.tail }
        var span: Double
        if sessions[s].deliveries >= 4 && sessions[s].blockUnits >= 1 && sessions[s].blockPeriod > 0 {
            let period = sessions[s].blockPeriod + configuration.etaDeviations * sessions[s].blockDeviation
            let blocks = (Double(deadline) - Double(sessions[s].lastDeliveryAt)) / period
            span = blocks.rounded(.down) * sessions[s].blockUnits
        } else if configuration.nominalRateBeforePattern {
            span = Double(deadline - now) / sessions[s].unitInterval
        } else {
            return pool.tail
        }
        let ahead = span >= 1e15 ? UInt64(1e15) : (span > 0 ? UInt64(span) : 0)
        return min(pool.windowEnd, pool.tail &+ ahead)
    }

    /// Whether every unit of `units` is delivered at session `s`.
    @inline(__always)
    func delivered(_ units: UnitRuns, _ s: Int) -> Bool {
        guard let last = units.last else { return true }
        return pools[s].isDelivered(last)
    }
}
