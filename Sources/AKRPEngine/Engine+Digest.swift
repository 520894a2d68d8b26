/// A canonical digest of an engine's protocol state, for model checking (state-space exploration
/// merges interleavings that reach the same state). Not for hot paths: it allocates.
extension Engine {
    /// Feeds the engine's observable protocol state into `h`, independent of slot numbering.
    public func digest(into h: inout Hasher) {
        h.combine(node)
        for k in 0..<sessionCount {
            let session = sessions[k]
            h.combine(session.up)
            h.combine(session.peerIncarnation)
            h.combine(session.sendSequence)
            h.combine(session.receiveSequence)
            h.combine(session.heldCount)
            // Whether reservation messages wait for company on this link (`frameHold`).
            h.combine(holdsReservationMessages(k))
            var n = 0
            while n < session.heldCount {
                let m = held[k * Self.heldMessagesPerLink + n]
                h.combine(m.request)
                h.combine(m.branch)
                h.combine(m.hop)
                n += 1
            }
        }
        for (session, pool) in pools.enumerated() {
            h.combine(session)
            h.combine(pool.head)
            h.combine(pool.tail)
            var i = pool.head
            while i < min(pool.windowEnd, pool.referencedEnd &+ 1) {
                h.combine(pool.state(i).rawValue)
                let t = Int(pool.holder(i))
                if t > 0 {
                    h.combine(records[t - 1].request)
                    h.combine(records[t - 1].branch)
                }
                i += 1
            }
        }
        var active: [(RequestID, UInt8, Int)] = []
        var slot = 0
        while slot < recordHighWater {
            if records[slot].state != .free { active.append((records[slot].request, records[slot].branch, slot)) }
            slot += 1
        }
        active.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        for (_, _, slot) in active {
            let r = records[slot]
            h.combine(r.request)
            h.combine(r.branch)
            h.combine(r.state.rawValue)
            h.combine(r.inUnits)
            h.combine(r.outUnits)
            h.combine(r.shareMask)
            h.combine(r.broken)
            if r.accumulator >= 0 {
                let a = Int(r.accumulator)
                var i = 0
                while i < Int(r.size) * configuration.unitSize {
                    h.combine(accumulators[a * keyBytes + i])
                    i += 1
                }
            }
        }
        var srcs: [(RequestID, Int)] = []
        slot = 0
        while slot < sourceHighWater {
            if sources[slot].active { srcs.append((sources[slot].request, slot)) }
            slot += 1
        }
        srcs.sort { $0.0 < $1.0 }
        for (_, slot) in srcs {
            h.combine(sources[slot].request)
            h.combine(sources[slot].decided)
            h.combine(sources[slot].branchCount)
            h.combine(sources[slot].nextPath)
        }
    }
}
