/// The source's side: launching branches, re-routing, choosing the branch that completes earliest.
extension Engine {
    func launchBranch(_ src: Int, path pathIndex: Int, now: Nanoseconds, outbox: Outbox) {
        let b = Int(sources[src].branchCount)
        guard b < 8 else {
            return sourceFailed(sources[src].request, reason: sources[src].lastReason, outbox: outbox)
        }
        sources[src].branchCount += 1
        sources[src].branchState[b] = .pending
        sources[src].branchPath[b] = UInt8(pathIndex)
        counters.branchesLaunched += 1
        let path = sources[src].paths[pathIndex]
        let request = sources[src].request
        guard let out = self.session(of: path[1]), sessions[out].up else {
            return branchFailed(request, branch: UInt8(b), reason: .linkDown, now: now, outbox: outbox)
        }
        var message = Message(kind: .reserve)
        message.request = request
        message.branch = UInt8(b)
        message.path = path
        message.size = sources[src].size
        message.time = sources[src].deadline
        if let detour = configuration.detourBudget, path.hops > Int(sources[src].directHops) {
            message.time = min(message.time, sources[src].arrival &+ detour)
            counters.detourBranches += 1
            // Such a detour takes delivered key only: if link state says a later hop has less free than the
            // request, it would be refused there after a reserve and a fail per hop crossed (§10.1).
            // (The source's own hop, 0, is checked exactly when it chooses its units.)
            if message.time <= now && configuration.keyAwareRouting
                && !knownLevels(of: path, from: 1, atLeast: Int(message.size)) {
                counters.detoursSkipped += 1
                return branchFailed(request, branch: UInt8(b), reason: .noKeyWithinBudget, now: now, outbox: outbox)
            }
        }
        guard let slot = allocateRecord(message, position: 0) else {
            return branchFailed(request, branch: UInt8(b), reason: .tableFull, now: now, outbox: outbox)
        }
        records[slot].outSession = Int16(out)
        let (units, why) = chooseUnits(out, slot: slot, count: Int(message.size), deadline: message.time, now: now)
        guard why == .none else {
            freeRecord(slot)
            return branchFailed(request, branch: UInt8(b), reason: why, now: now, outbox: outbox)
        }
        records[slot].outUnits = units
        records[slot].eta = eta(of: units, out, now: now)
        records[slot].state = .reserving
        records[slot].expiry = now &+ configuration.lease
        noteTimer(records[slot].expiry)
        message.units = units
        message.hop = 0
        message.index = pools[out].windowEnd
        send(&message, out, outbox)
    }

    /// A branch's source record received its confirm.
    func branchConfirmed(_ slot: Int, now: Nanoseconds, outbox: Outbox) {
        guard let src = sourceIndex.find(records[slot].request, 0) else {
            return terminate(slot, reason: .leaseExpired, now: now, outbox: outbox)
        }
        let b = Int(records[slot].branch)
        sources[src].branchState[b] = .confirmed
        sources[src].branchETA[b] = records[slot].eta
        records[slot].expiry = now &+ configuration.lease
        noteTimer(records[slot].expiry)
        if configuration.paths == 1 || sources[src].decided {
            if !sources[src].decided { return commitBranch(src, b, now: now, outbox: outbox) }
            return terminate(slot, reason: .lostToOtherBranch, now: now, outbox: outbox)
        }
        if records[slot].eta <= now || allBranchesEnded(src) {
            return decide(src, now: now, outbox: outbox)
        }
        if sources[src].decisionAt == .max {
            sources[src].decisionAt = now &+ configuration.branchWindow
            noteTimer(sources[src].decisionAt)
        }
    }

    func allBranchesEnded(_ src: Int) -> Bool {
        var b = 0
        while b < Int(sources[src].branchCount) {
            if sources[src].branchState[b] == .pending { return false }
            b += 1
        }
        return true
    }

    /// A branch failed at the source: re-route (single path), decide, or fail the request.
    func branchFailed(_ request: RequestID, branch: UInt8, reason: FailReason, now: Nanoseconds, outbox: Outbox) {
        guard let src = sourceIndex.find(request, 0) else { return }
        let b = Int(branch)
        if sources[src].branchState[b] == .pending || sources[src].branchState[b] == .confirmed {
            sources[src].branchState[b] = .failed
        }
        if reason != .lostToOtherBranch { sources[src].lastReason = reason }
        if sources[src].decided { return }
        if configuration.paths == 1 {
            let next = Int(sources[src].nextPath) + 1
            if next >= Int(sources[src].pathCount) && sources[src].deferredPaths > 0 && now < sources[src].deadline
                && retryable(reason) {
                searchDeferredPaths(src)
            }
            if next < Int(sources[src].pathCount) && now < sources[src].deadline && retryable(reason) {
                sources[src].nextPath = UInt8(next)
                counters.reroutes += 1
                return launchBranch(src, path: next, now: now, outbox: outbox)
            }
            return sourceFailed(request, reason: sources[src].lastReason, outbox: outbox)
        }
        if allBranchesEnded(src) {
            // Adaptive multipath launched fewer branches than candidates: search the others now.
            let next = Int(sources[src].nextPath) + 1
            if next < Int(sources[src].pathCount) && now < sources[src].deadline && retryable(reason) {
                sources[src].nextPath = UInt8(sources[src].pathCount - 1)
                var b = next
                while b < Int(sources[src].pathCount) {
                    launchBranch(src, path: b, now: now, outbox: outbox)
                    b += 1
                }
                return
            }
            decide(src, now: now, outbox: outbox)
        }
    }

    /// Searches the candidate paths of source slot `src` that ``request(destination:units:now:outbox:awaitingConfirmation:)``
    /// left for later (least-delay routing: the same search gives the same list, so its first path is the
    /// one already tried).
    func searchDeferredPaths(_ src: Int) {
        let want = Int(sources[src].deferredPaths)
        sources[src].deferredPaths = 0
        var found = InlineArray<4, Path>(repeating: Path())
        let count = router.paths(
            from: node, to: sources[src].destination, units: Int(sources[src].size), keyAware: false, count: want,
            into: &found)
        // The same search on the same costs: a different first path would be a router bug.
        assert(count > 0 && found[0] == sources[src].paths[0], "deferred candidates differ from the first search")
        guard count > 0 && found[0] == sources[src].paths[0] else { return }
        sources[src].paths = found
        sources[src].pathCount = UInt8(count)
    }

    func retryable(_ reason: FailReason) -> Bool {
        switch reason {
        case .noKeyWithinBudget, .tableFull, .fragmented, .linkDown: true
        default: false
        }
    }

    /// Multipath: keep the confirmed branch that completes earliest, release the others.
    func decide(_ src: Int, now: Nanoseconds, outbox: Outbox) {
        guard !sources[src].decided else { return }
        var best = -1
        var b = 0
        while b < Int(sources[src].branchCount) {
            if sources[src].branchState[b] == .confirmed
                && (best < 0 || sources[src].branchETA[b] < sources[src].branchETA[best])
            {
                best = b
            }
            b += 1
        }
        guard best >= 0 else {
            if allBranchesEnded(src) {
                sourceFailed(sources[src].request, reason: sources[src].lastReason, outbox: outbox)
            } else {
                sources[src].decisionAt = .max
            }
            return
        }
        sources[src].decided = true
        let request = sources[src].request
        b = 0
        while b < Int(sources[src].branchCount) {
            if b != best
                && (sources[src].branchState[b] == .pending || sources[src].branchState[b] == .confirmed)
            {
                sources[src].branchState[b] = .released
                if let slot = recordIndex.find(request, UInt8(b)) {
                    terminate(slot, reason: .lostToOtherBranch, now: now, outbox: outbox)
                }
            }
            b += 1
        }
        commitBranch(src, best, now: now, outbox: outbox)
    }

    func commitBranch(_ src: Int, _ b: Int, now: Nanoseconds, outbox: Outbox) {
        let size = Int(sources[src].size) * configuration.unitSize
        guard outbox.canReserve(2 * size) else {
            // No room for the commit and the key now: decide again on the next tick.
            sources[src].decided = false
            sources[src].decisionAt = now &+ 1_000_000
            noteTimer(sources[src].decisionAt)
            return
        }
        sources[src].decided = true
        sources[src].branchState[b] = .committed
        guard let slot = recordIndex.find(sources[src].request, UInt8(b)) else { return }
        records[slot].state = .committed
        records[slot].expiry = committedExpiry(slot, now: now)
        noteTimer(records[slot].expiry)
        yieldDeliveredUnits(slot, Int(records[slot].outSession), now: now)
        counters.requestsAccepted += 1
        var e = EngineEvent(kind: .requestAccepted)
        e.request = records[slot].request
        e.branch = UInt8(b)
        e.time = records[slot].eta
        e.path = records[slot].path
        outbox.push(event: e)
        let bytes = Int(records[slot].size) * configuration.unitSize
        if let (offset, _) = outbox.reserveBytes(bytes) {
            var message = Message(kind: .commit)
            message.request = records[slot].request
            message.branch = UInt8(b)
            message.hop = 0
            message.size = records[slot].size
            message.time = records[slot].eta
            message.path = records[slot].path
            message.units = records[slot].outUnits
            message.payloadLength = UInt16(bytes)
            message.reason = sources[src].noticeAwaited ? Message.noticeAwaited : 0
            send(&message, Int(records[slot].outSession), outbox, payloadOffset: offset)
        }
        if delivered(records[slot].outUnits, Int(records[slot].outSession)) {
            finishSource(slot, now: now, outbox: outbox)
        } else {
            addPending(slot)
        }
    }

    /// The source's key is its first link's units: hand them out and consume them.
    func finishSource(_ slot: Int, now: Nanoseconds, outbox: Outbox) {
        let bytes = Int(records[slot].size) * configuration.unitSize
        guard let (offset, buffer) = outbox.reserveBytes(bytes) else {
            addPending(slot)
            return retryPendingSoon(now)
        }
        guard consume(slot, incoming: false, into: buffer, outbox: outbox) else {
            wipe(buffer)
            let request = records[slot].request
            freeRecord(slot)
            return sourceFailed(request, reason: .unitsDiscarded, outbox: outbox)
        }
        counters.keysDeliveredAsSource += 1
        emitKey(slot, role: .source, offset: offset, length: bytes, now: now, outbox: outbox)
        let request = records[slot].request
        freeRecord(slot)
        releaseSource(request)
    }

    func sourceFailed(_ request: RequestID, reason: FailReason, outbox: Outbox) {
        guard sourceIndex.find(request, 0) != nil else { return }
        counters.requestsFailed += 1
        var e = EngineEvent(kind: .requestFailed)
        e.request = request
        e.reason = reason
        outbox.push(event: e)
        releaseSource(request)
    }

    func releaseSource(_ request: RequestID) {
        guard let src = sourceIndex.find(request, 0) else { return }
        sourceIndex.remove(request, 0)
        sources[src] = SourceRequest()
        sourceSlots.give(src)
    }
}
