/// Commit, relay shares, key delivery, and the end of a branch (termination, lease expiry).
extension Engine {
    // MARK: commit

    /// When a committed record stops waiting for its key (and, at the destination, for the relay shares)
    /// and discards its units: its ETA plus `completionGrace`, but never later than its deadline plus
    /// `completionGrace`. An ETA past the deadline — the estimate moved after admission, or the upstream
    /// end's commit says so — must not hold the units for longer than the request's own budget allows: a
    /// destination whose share from a relay was lost would otherwise wait out that ETA (the chaos check found
    /// one 12–16 s past the deadline, after the drain).
    func committedExpiry(_ slot: Int, now: Nanoseconds) -> Nanoseconds {
        let due = min(records[slot].eta, max(records[slot].deadline, now))
        return max(due, now) &+ configuration.completionGrace
    }

    func handleCommit(
        _ message: Message, _ session: Int, payload: UnsafeRawBufferPointer, now: Nanoseconds, outbox: Outbox
    ) {
        guard let slot = record(for: message, fromUpstream: true, outbox) else { return }
        guard records[slot].state == .confirmed, !records[slot].inUnits.isEmpty else {
            return reject(.wrongState, outbox)
        }
        let p = Int(records[slot].position)
        let bytes = Int(records[slot].size) * configuration.unitSize
        guard payload.count == bytes, Int(message.payloadLength) == bytes else { return reject(.badPayload, outbox) }
        let allowed: UInt32 = p >= 32 ? .max : ((1 << UInt32(p)) - 1) & ~1
        guard message.shareMask & ~allowed == 0 else { return reject(.badPayload, outbox) }
        guard message.units.unitCount == Int(records[slot].size) else { return reject(.unitCountMismatch, outbox) }
        // The upstream end committed; it may have moved the branch to later units on this link.
        guard adoptCommittedUnits(slot, session, message.units) else {
            counters.consistencyFaults += 1
            // Upstream committed: our units of that link are burned; we never commit.
            discardUnits(&records[slot].inUnits, session, slot: slot)
            return terminate(slot, reason: .unitsDiscarded, now: now, outbox: outbox)
        }
        records[slot].state = .committed
        records[slot].noticeAwaited = message.reason & Message.noticeAwaited != 0
        records[slot].eta = max(records[slot].eta, message.time)
        records[slot].expiry = committedExpiry(slot, now: now)
        noteTimer(records[slot].expiry)
        if records[slot].isDestination {
            xorIntoAccumulator(slot, payload)
            records[slot].shareMask |= message.shareMask
            tryFinishDestination(slot, now: now, outbox: outbox)
            return
        }
        let out = Int(records[slot].outSession)
        yieldDeliveredUnits(slot, out, now: now)
        var f = message
        f.hop = UInt8(p)
        f.units = records[slot].outUnits
        guard let (offset, buffer) = outbox.reserveBytes(bytes) else {
            // No room to forward now: the commit is lost, as on a network. Downstream will ask (abort).
            addPending(slot)
            return
        }
        buffer.copyMemory(from: payload)
        if delivered(records[slot].inUnits, session) && delivered(records[slot].outUnits, out) {
            if consumeShare(slot, into: buffer, outbox: outbox) {
                f.shareMask |= 1 << UInt32(p)
                send(&f, out, outbox, payloadOffset: offset)
            }
            freeRecord(slot)
        } else {
            send(&f, out, outbox, payloadOffset: offset)
            addPending(slot)
        }
    }

    /// XORs this node's units of both links into `buffer` (its relay share) and consumes them.
    /// Returns false on a consistency fault (the share must then not be sent).
    func consumeShare(_ slot: Int, into buffer: UnsafeMutableRawBufferPointer, outbox: Outbox) -> Bool {
        let a = consume(slot, incoming: true, into: buffer, outbox: outbox)
        let b = consume(slot, incoming: false, into: buffer, outbox: outbox)
        if a && b { counters.sharesSent += 1 }
        return a && b
    }

    /// Consumes the units a record holds on one of its links, XORing them into `buffer` in order.
    /// Returns false when a unit was not bound to this record (it is discarded, never used).
    @discardableResult
    func consume(_ slot: Int, incoming: Bool, into buffer: UnsafeMutableRawBufferPointer, outbox: Outbox) -> Bool {
        let session = Int(incoming ? records[slot].inSession : records[slot].outSession)
        let units = incoming ? records[slot].inUnits : records[slot].outUnits
        let pool = pools[session]
        let holderToken = token(slot)
        // All or nothing: every unit must be delivered and bound to this record, or none is used.
        var r = 0
        while r < Int(units.runCount) {
            let run = units[r]
            var u = run.start
            while u < run.end {
                if !pool.isConsumable(u, holder: holderToken) {
                    counters.consistencyFaults += 1
                    if incoming {
                        discardUnits(&records[slot].inUnits, session, slot: slot)
                    } else {
                        discardUnits(&records[slot].outUnits, session, slot: slot)
                    }
                    return false
                }
                u += 1
            }
            r += 1
        }
        // Run by run: one wipe per stretch of the pool's ring instead of one per unit.
        var k = 0
        r = 0
        while r < Int(units.runCount) {
            let run = units[r]
            let n = run.end > run.start ? Int(run.count) : 0
            pool.consumeRun(
                start: run.start, count: n, holder: holderToken, xorInto: buffer, at: k * configuration.unitSize,
                checked: true)
            k += n
            r += 1
        }
        counters.unitsConsumed += UInt64(k)
        var e = EngineEvent(kind: .unitsConsumed)
        e.request = records[slot].request
        e.branch = records[slot].branch
        e.link = sessions[session].link
        e.units = units
        #if AKRP_MUTATIONS
        if mutation == .reportsOtherUnits { e.units = EngineMutation.misreported(units) }
        #endif
        outbox.push(event: e)
        if incoming { records[slot].inUnits = UnitRuns() } else { records[slot].outUnits = UnitRuns() }
        return true
    }

    // MARK: shares

    func handleShare(
        _ message: Message, _ session: Int, payload: UnsafeRawBufferPointer, now: Nanoseconds, outbox: Outbox
    ) {
        guard let p = position(for: message, fromUpstream: true, outbox) else { return }
        guard message.hop >= 1, Int(message.hop) < p else { return reject(.wrongHop, outbox) }
        let bytes = Int(message.size) * configuration.unitSize
        guard message.size >= 1, Int(message.size) <= configuration.maxRequestUnits, payload.count == bytes,
            Int(message.payloadLength) == bytes
        else { return reject(.badPayload, outbox) }
        if p < message.path.hops {
            guard let out = self.session(of: message.path[p + 1]) else { return reject(.notOnPath, outbox) }
            guard let (offset, buffer) = outbox.reserveBytes(bytes) else { return }
            buffer.copyMemory(from: payload)
            var f = message
            send(&f, out, outbox, payloadOffset: offset)
            return
        }
        guard let slot = recordIndex.find(message.request, message.branch) else { return reject(.unknownRequest, outbox) }
        guard records[slot].state == .committed, records[slot].isDestination,
            Int(records[slot].size) == Int(message.size)
        else { return reject(.wrongState, outbox) }
        let bit: UInt32 = 1 << UInt32(message.hop)
        guard records[slot].shareMask & bit == 0 else { return reject(.duplicateShare, outbox) }
        xorIntoAccumulator(slot, payload)
        records[slot].shareMask |= bit
        tryFinishDestination(slot, now: now, outbox: outbox)
    }

    func sendShare(_ slot: Int, now: Nanoseconds, outbox: Outbox) {
        let bytes = Int(records[slot].size) * configuration.unitSize
        guard let (offset, buffer) = outbox.reserveBytes(bytes) else { return retryPendingSoon(now) }
        guard consumeShare(slot, into: buffer, outbox: outbox) else { return freeRecord(slot) }
        var message = Message(kind: .share)
        message.request = records[slot].request
        message.branch = records[slot].branch
        message.hop = records[slot].position
        message.size = records[slot].size
        message.path = records[slot].path
        message.payloadLength = UInt16(bytes)
        send(&message, Int(records[slot].outSession), outbox, payloadOffset: offset)
        freeRecord(slot)
    }

    func xorIntoAccumulator(_ slot: Int, _ payload: UnsafeRawBufferPointer) {
        let a = Int(records[slot].accumulator)
        guard a >= 0 else { return }
        let base = a * keyBytes
        // Callers pass at most `keyBytes` bytes (the payload length was checked against the record's
        // size); never more than one accumulator.
        let count = min(payload.count, keyBytes)
        guard count > 0 else { return }
        xorBytes(into: accumulators.baseAddress! + base, from: payload.baseAddress!, count: count)
    }

    func tryFinishDestination(_ slot: Int, now: Nanoseconds, outbox: Outbox) {
        #if AKRP_MUTATIONS
        if mutation == .destinationNeverDelivers { return }
        #endif
        let h = records[slot].path.hops
        let needed: UInt32 = ((1 << UInt32(h)) - 1) & ~1
        guard records[slot].shareMask == needed else { return }
        let session = Int(records[slot].inSession)
        guard delivered(records[slot].inUnits, session) else { return addPending(slot) }
        let bytes = Int(records[slot].size) * configuration.unitSize
        guard let (offset, buffer) = outbox.reserveBytes(bytes) else {
            addPending(slot)
            return retryPendingSoon(now)
        }
        let a = Int(records[slot].accumulator)
        buffer.copyMemory(
            from: UnsafeRawBufferPointer(rebasing: accumulators[(a * keyBytes)..<(a * keyBytes + bytes)]))
        guard consume(slot, incoming: true, into: buffer, outbox: outbox) else {
            wipe(buffer)
            return freeRecord(slot)
        }
        counters.keysDeliveredAsDestination += 1
        #if AKRP_MUTATIONS
        if mutation == .destinationAltersKey { buffer[0] ^= 1 }
        #endif
        emitKey(slot, role: .destination, offset: offset, length: bytes, now: now, outbox: outbox)
        var d = Message(kind: .delivered)
        d.request = records[slot].request
        d.branch = records[slot].branch
        d.hop = records[slot].position - 1
        d.path = records[slot].path
        if records[slot].noticeAwaited {
            d.reason = Message.noticeAwaited
            send(&d, session, outbox)
        } else {
            sendLater(&d, session, outbox, now: now, hold: configuration.deliveredHold)
        }
        freeRecord(slot)
    }

    /// Reports a key ready at this node; the bytes are in the outbox arena at `offset`.
    func emitKey(_ slot: Int, role: KeyRole, offset: Int, length: Int, now: Nanoseconds, outbox: Outbox) {
        var e = EngineEvent(kind: .keyDelivered)
        e.request = records[slot].request
        e.branch = records[slot].branch
        e.role = role
        e.payloadOffset = offset
        e.payloadLength = length
        e.path = records[slot].path
        e.time = now
        outbox.push(event: e)
    }

    func handleDelivered(_ message: Message, _ session: Int, now: Nanoseconds, outbox: Outbox) {
        guard let p = position(for: message, fromUpstream: false, outbox) else { return }
        guard Int(message.hop) == p else { return reject(.wrongHop, outbox) }
        if p == 0 {
            var e = EngineEvent(kind: .destinationConfirmed)
            e.request = message.request
            e.branch = message.branch
            e.time = now
            outbox.push(event: e)
            return
        }
        guard let up = self.session(of: message.path[p - 1]) else { return reject(.notOnPath, outbox) }
        var f = message
        f.hop = UInt8(p - 1)
        if message.reason & Message.noticeAwaited != 0 {
            send(&f, up, outbox)
        } else {
            sendLater(&f, up, outbox, now: now, hold: configuration.deliveredHold)
        }
    }

    // MARK: pending work

    /// The outbox had no room for key bytes: try the pending work again on the next tick.
    func retryPendingSoon(_ now: Nanoseconds) {
        pendingRetry = true
        noteTimer(now &+ 1_000_000)
    }

    /// Retries every pending completion (after the outbox ran out of room).
    func runAllPending(now: Nanoseconds, outbox: Outbox) {
        pendingRetry = false
        var i = pendingCount - 1
        while i >= 0 {
            if i < pendingCount { advance(Int(pending[i]), now: now, outbox: outbox) }
            i -= 1
        }
    }

    /// Completes committed records that were waiting for key on session index `session`.
    func runPending(session: Int, now: Nanoseconds, outbox: Outbox) {
        var i = pendingCount - 1
        while i >= 0 {
            if i < pendingCount {
                let slot = Int(pending[i])
                if Int(records[slot].inSession) == session || Int(records[slot].outSession) == session {
                    advance(slot, now: now, outbox: outbox)
                }
            }
            i -= 1
        }
    }

    /// Does whatever a committed record can do now that more key arrived.
    func advance(_ slot: Int, now: Nanoseconds, outbox: Outbox) {
        guard records[slot].state == .committed else { return }
        // Each completion frees the record (and its pending entry) on success, and leaves it pending
        // when the outbox has no room for the key bytes now.
        if records[slot].isSource {
            if delivered(records[slot].outUnits, Int(records[slot].outSession)) {
                finishSource(slot, now: now, outbox: outbox)
            }
        } else if records[slot].isDestination {
            tryFinishDestination(slot, now: now, outbox: outbox)
        } else if delivered(records[slot].inUnits, Int(records[slot].inSession))
            && delivered(records[slot].outUnits, Int(records[slot].outSession))
        {
            sendShare(slot, now: now, outbox: outbox)
        }
    }

    // MARK: end of a branch

    /// Ends a branch at this node for `reason`, following the release rules of `docs/PROTOCOL.md`:
    /// units are freed only when the other end can no longer consume them for this branch, and
    /// discarded otherwise. A downstream end that confirmed first asks upstream (abort).
    func terminate(_ slot: Int, reason: FailReason, now: Nanoseconds, outbox: Outbox, lostSession: Int = -1) {
        let state = records[slot].state
        let p = records[slot].position
        counters.failures[Int(reason.rawValue)] += 1
        // Downstream link: we are its upstream end.
        let out = Int(records[slot].outSession)
        if out >= 0 && out != lostSession && !records[slot].outUnits.isEmpty {
            if state == .committed {
                discardUnits(&records[slot].outUnits, out, slot: slot)
            } else {
                releaseUnits(&records[slot].outUnits, out, slot: slot)
                var message = Message(kind: .release)
                message.request = records[slot].request
                message.branch = records[slot].branch
                message.hop = p
                message.path = records[slot].path
                send(&message, out, outbox)
                counters.branchesReleased += 1
            }
        }
        // Upstream link: we are its downstream end.
        let inn = Int(records[slot].inSession)
        if inn >= 0 && inn != lostSession && !records[slot].inUnits.isEmpty {
            switch state {
            case .reserving:
                releaseUnits(&records[slot].inUnits, inn, slot: slot)
                var message = Message(kind: .fail)
                message.request = records[slot].request
                message.branch = records[slot].branch
                message.hop = p - 1
                message.reason = reason.rawValue
                message.path = records[slot].path
                send(&message, inn, outbox)
            case .confirmed:
                // Upstream may have committed: ask before freeing anything.
                records[slot].state = .aborting
                records[slot].attempts = 1
                records[slot].expiry = now &+ configuration.retryInterval
                noteTimer(records[slot].expiry)
                sendAbort(slot, outbox: outbox)
                return
            case .aborting, .committed, .free:
                discardUnits(&records[slot].inUnits, inn, slot: slot)
            }
        }
        if records[slot].isSource {
            let request = records[slot].request
            let branch = records[slot].branch
            freeRecord(slot)
            if state == .committed {
                sourceFailed(request, reason: .unitsDiscarded, outbox: outbox)
            } else {
                branchFailed(request, branch: branch, reason: reason, now: now, outbox: outbox)
            }
            return
        }
        freeRecord(slot)
    }

    func sendAbort(_ slot: Int, outbox: Outbox) {
        var message = Message(kind: .abort)
        message.request = records[slot].request
        message.branch = records[slot].branch
        message.hop = records[slot].position - 1
        message.path = records[slot].path
        send(&message, Int(records[slot].inSession), outbox)
        counters.abortsSent += 1
    }

    /// A lease or timer of a record ran out.
    func expire(_ slot: Int, now: Nanoseconds, outbox: Outbox) {
        counters.leaseExpiries += 1
        switch records[slot].state {
        case .free:
            return
        case .reserving:
            terminate(slot, reason: .leaseExpired, now: now, outbox: outbox)
        case .confirmed:
            if records[slot].isSource, let src = sourceIndex.find(records[slot].request, 0),
                !sources[src].decided
            {
                decide(src, now: now, outbox: outbox)
                if records[slot].state == .confirmed {
                    terminate(slot, reason: .leaseExpired, now: now, outbox: outbox)
                }
            } else {
                terminate(slot, reason: .leaseExpired, now: now, outbox: outbox)
            }
        case .aborting:
            if Int(records[slot].attempts) < configuration.abortAttempts {
                records[slot].attempts += 1
                records[slot].expiry = now &+ configuration.retryInterval
                sendAbort(slot, outbox: outbox)
            } else {
                // No answer: in doubt, the units are burned, never reused.
                discardUnits(&records[slot].inUnits, Int(records[slot].inSession), slot: slot)
                freeRecord(slot)
            }
        case .committed:
            // Key never arrived (stalled device) or shares never came: burn what is held.
            terminate(slot, reason: .unitsDiscarded, now: now, outbox: outbox)
        }
    }
}
