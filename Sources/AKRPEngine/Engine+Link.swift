/// Link sessions: hello / resync handshake, peer restarts, link-state flooding.
extension Engine {
    func sendHello(_ session: Int, now: Nanoseconds, outbox: Outbox) {
        if !sessions[session].resumeSet { setResumeIndex(session) }
        var message = Message(kind: .hello)
        message.index = sessions[session].resumeMine
        send(&message, session, outbox)
        sessions[session].helloDue = now &+ configuration.retryInterval
        noteTimer(sessions[session].helloDue)
    }

    func handleHello(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        let known = sessions[session].peerIncarnation
        if message.incarnation < known { return reject(.staleIncarnation, outbox) }
        if message.incarnation == known {
            // A repeated hello: the peer has not seen our resync yet. Answer with the same index.
            guard message.sequence > sessions[session].receiveSequence else { return reject(.duplicateOrStale, outbox) }
            sessions[session].receiveSequence = message.sequence
            var r = Message(kind: .resync)
            r.index = sessions[session].resumeMine
            send(&r, session, outbox)
            return
        }
        if known != 0 {
            // The peer restarted: everything it knew about this link is gone.
            peerRestarted(session, now: now, outbox: outbox)
            setResumeIndex(session)
        } else if !sessions[session].resumeSet {
            setResumeIndex(session)
        }
        sessions[session].peerIncarnation = message.incarnation
        sessions[session].receiveSequence = message.sequence
        bringUp(session, peerResume: message.index)
        var r = Message(kind: .resync)
        r.index = sessions[session].resumeMine
        send(&r, session, outbox)
    }

    /// Fixes the index from which this end resumes the link: past every unit it ever delivered or
    /// referenced (never lower than an index it announced before).
    func setResumeIndex(_ session: Int) {
        let pool = pools[session]
        let here = pool.started ? max(pool.tail, pool.referencedEnd) : 0
        sessions[session].resumeMine = sessions[session].resumeSet ? max(sessions[session].resumeMine, here) : here
        sessions[session].resumeSet = true
    }

    /// The shell lost its connection to the neighbour (a TCP connection closed or timed out). The link is
    /// down until a new handshake: branches that would use it fail at once with `linkDown` (and the source
    /// re-routes) instead of waiting for their leases, hello is resent, and the link counts as having no
    /// key in this node's routing and link-state announcements. Nothing is discarded: the peer has not
    /// restarted as far as anyone knows, and when it has, its hello says so.
    public func linkLost(toward neighbour: NodeID, now: Nanoseconds) {
        stepNow = now
        guard let session = self.session(of: neighbour), sessions[session].up || !sessions[session].lost else { return }
        sessions[session].up = false
        sessions[session].lost = true
        sessions[session].helloDue = now
        noteTimer(now)
        nextLinkState = min(nextLinkState, now)
    }

    /// The shell moved the pool of the link to `neighbour` forward (``KeyPool/skip(to:)``), or the
    /// neighbour may have moved its own: the window end the neighbour last announced (§7.5) no longer
    /// says what it can track, and could lie below this end's head — no unit could then be proposed on the
    /// link until the neighbour announced again. Until it does, this end's own window is the limit (as
    /// when nothing was announced; units the neighbour cannot track are refused by it, never lost).
    public func forgetPeerWindow(toward neighbour: NodeID) {
        guard let session = self.session(of: neighbour) else { return }
        sessions[session].peerWindowEnd = 0
    }

    /// Both resume indices are known: skip the pool past both and bring the link up.
    func bringUp(_ session: Int, peerResume: UInt64) {
        let start = max(sessions[session].resumeMine, peerResume)
        counters.unitsDiscarded += UInt64(pools[session].skip(to: start))
        sessions[session].peerWindowEnd = 0
        sessions[session].up = true
        sessions[session].lost = false
    }

    func handleResync(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        guard message.peerIncarnation == incarnation else { return reject(.wrongIncarnation, outbox) }
        let known = sessions[session].peerIncarnation
        if message.incarnation < known { return reject(.staleIncarnation, outbox) }
        if message.incarnation == known {
            guard message.sequence > sessions[session].receiveSequence else { return reject(.duplicateOrStale, outbox) }
            sessions[session].receiveSequence = message.sequence
            if sessions[session].up { return }
        } else {
            if known != 0 {
                peerRestarted(session, now: now, outbox: outbox)
                setResumeIndex(session)
            }
            sessions[session].peerIncarnation = message.incarnation
            sessions[session].receiveSequence = message.sequence
        }
        bringUp(session, peerResume: message.index)
    }

    /// The neighbour of session index `session` restarted: discard every unit of the link that is not consumed
    /// and end every request branch that used the link.
    func peerRestarted(_ session: Int, now: Nanoseconds, outbox: Outbox) {
        counters.peerRestarts += 1
        sessions[session].up = false
        dropHeld(session)
        let n = pools[session].discardAll()
        if n > 0 {
            counters.unitsDiscarded += UInt64(n)
            var e = EngineEvent(kind: .unitsDiscarded)
            e.link = sessions[session].link
            e.count = n
            e.reason = .peerRestarted
            outbox.push(event: e)
        }
        var slot = 0
        while slot < recordHighWater {
            if records[slot].state != .free
                && (Int(records[slot].inSession) == session || Int(records[slot].outSession) == session)
            {
                // The link's units are already discarded.
                if Int(records[slot].inSession) == session { records[slot].inUnits = UnitRuns() }
                if Int(records[slot].outSession) == session { records[slot].outUnits = UnitRuns() }
                terminate(slot, reason: .peerRestarted, now: now, outbox: outbox, lostSession: session)
            }
            slot += 1
        }
    }

    /// The band of a free level that key-aware routing cares about: none, under 4 units, under 16, more.
    @inline(__always)
    func levelBand(_ level: Int) -> UInt8 {
        level == 0 ? 0 : (level < 4 ? 1 : (level < 16 ? 2 : 3))
    }

    /// Floods the free level of the links whose low end this node is, when the level changed band since
    /// the last announcement or the refresh interval passed. Both ends see the same key stream, so one
    /// announcement per link is enough; with the bands, flooding costs a few frames (and their
    /// authentication key) per change that matters instead of a steady stream.
    func announceLinkState(now: Nanoseconds, outbox: Outbox) {
        var i = 0
        while i < sessionCount {
            let available = sessions[i].lost ? 0 : pools[i].availableDelivered
            let level = Double(available)
            let rate = 1e9 / sessions[i].unitInterval
            router.update(link: sessions[i].topologyIndex, level: level, rate: rate)
            let band = levelBand(available)
            let refresh = sessions[i].announcedBand == .max
                || now >= sessions[i].announcedAt &+ configuration.linkStateInterval
            guard sessions[i].link.low == node, refresh || band != sessions[i].announcedBand else {
                i += 1
                continue
            }
            sessions[i].announcedBand = band
            sessions[i].announcedAt = now
            sessions[i].linkStateSerial &+= 1
            var message = Message(kind: .linkState)
            message.subject = sessions[i].link
            message.index = UInt64(available)
            message.rate = UInt32(min(rate, Double(UInt32.max)))
            message.serial = sessions[i].linkStateSerial
            message.request = RequestID(source: node, serial: 0)
            message.hop = UInt8(min(max(configuration.linkStateRadius, 1), Path.maxHops))
            var j = 0
            while j < sessionCount {
                if sessions[j].up { sendLater(&message, j, outbox, now: now, hold: configuration.linkStateHold) }
                j += 1
            }
            i += 1
        }
    }

    func handleLinkState(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        guard let linkIndex = topology.index(of: message.subject) else { return reject(.unknownLink, outbox) }
        let origin = message.request.source
        guard origin == message.subject.low || origin == message.subject.high else { return reject(.unknownLink, outbox) }
        if origin == node { return }
        let k = linkIndex * 2 + (origin == message.subject.low ? 0 : 1)
        // Serials are per origin incarnation; accept any change but ignore exact repeats and older ones
        // within a short distance (wrap-safe comparison).
        let last = linkStateSerials[k]
        if last != 0 && Int32(bitPattern: message.serial &- last) <= 0 { return }
        linkStateSerials[k] = message.serial
        router.update(link: linkIndex, level: Double(message.index), rate: Double(message.rate))
        guard message.hop > 1 else { return }
        var f = message
        f.hop = message.hop - 1
        var j = 0
        while j < sessionCount {
            if j != session && sessions[j].up { sendLater(&f, j, outbox, now: now, hold: configuration.linkStateHold) }
            j += 1
        }
    }

    /// Updates the router with this node's own link levels (exact, no announcement needed).
    func refreshOwnLinkLevels() {
        var i = 0
        while i < sessionCount {
            router.update(
                link: sessions[i].topologyIndex, level: sessions[i].lost ? 0 : Double(pools[i].availableDelivered),
                rate: 1e9 / sessions[i].unitInterval)
            i += 1
        }
    }
}

/// What the engine knows about one link end, for state dumps and diagnostics (no key bytes).
public struct LinkDiagnostics: Sendable, Equatable {
    /// The link's handshake completed (and was not lost since).
    public var up: Bool
    /// The shell reported the connection lost (``Engine/linkLost(toward:now:)``).
    public var lost: Bool
    /// The neighbour's incarnation as known here.
    public var peerIncarnation: UInt64
    /// The index this end announced it resumes from (§3.2).
    public var resumeIndex: UInt64
    /// The window end the neighbour last announced (0 = none since the link came up, §7.5).
    public var peerWindowEnd: UInt64
    /// The last unit this end used to key a frame, and the last one it accepted from the neighbour.
    public var authenticationSent: UInt64
    /// The last unit that keyed a frame accepted from the neighbour.
    public var authenticationReceived: UInt64
    /// Learnt delivery pattern: smoothed block period (ns) and block size (units), deliveries seen.
    public var blockPeriod: Double
    /// Learnt delivery pattern: smoothed block size, in units.
    public var blockUnits: Double
    /// Learnt delivery pattern: deliveries observed.
    public var deliveries: UInt32
    /// The first unit index whose expected delivery is later than `now + latencyBudget` (what admission
    /// may reserve for a request arriving now), and the limit of what may be proposed to the neighbour.
    public var admissionLimit: UInt64
    /// The first unit index this end may not propose to the neighbour (its announced window, §7.5).
    public var proposalLimit: UInt64
}

extension Engine {
    /// Diagnostics of the link to `neighbour` at time `now`.
    public func diagnostics(toward neighbour: NodeID, now: Nanoseconds) -> LinkDiagnostics? {
        guard let session = self.session(of: neighbour) else { return nil }
        let x = sessions[session]
        return LinkDiagnostics(
            up: x.up, lost: x.lost, peerIncarnation: x.peerIncarnation, resumeIndex: x.resumeMine,
            peerWindowEnd: x.peerWindowEnd, authenticationSent: x.authenticationSent,
            authenticationReceived: x.authenticationReceived, blockPeriod: x.blockPeriod, blockUnits: x.blockUnits,
            deliveries: x.deliveries, admissionLimit: indexLimit(session, deadline: now &+ configuration.latencyBudget, now: now),
            proposalLimit: peerLimit(session))
    }
}
