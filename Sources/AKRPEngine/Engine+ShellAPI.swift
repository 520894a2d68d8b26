/// The shell's entry points: start, requests, delivered key, messages and time in; state to inspect.
extension Engine {
    /// Starts the link handshakes: a hello to every neighbour.
    public func start(now: Nanoseconds, outbox: Outbox) {
        stepNow = now
        var i = 0
        while i < sessionCount {
            sendHello(i, now: now, outbox: outbox)
            i += 1
        }
        nextLinkState = now
        noteTimer(now + configuration.retryInterval)
    }

    /// The session index of a neighbour.
    @inline(__always)
    func session(of peer: NodeID) -> Int? {
        var i = 0
        while i < sessionCount {
            if sessions[i].peer == peer { return i }
            i += 1
        }
        return nil
    }

    /// The key pool of the link to `neighbour`.
    public func pool(toward neighbour: NodeID) -> KeyPool? {
        guard let session = self.session(of: neighbour) else { return nil }
        return pools[session]
    }

    /// Whether the link to `neighbour` has completed its handshake.
    public func isLinkUp(toward neighbour: NodeID) -> Bool {
        guard let session = self.session(of: neighbour) else { return false }
        return sessions[session].up
    }

    /// The neighbours of this node, in session order.
    public var neighbours: [NodeID] { (0..<sessionCount).map { sessions[$0].peer } }

    /// Asks for an end-to-end key of `units` units to `destination`. The outcome arrives later as
    /// `keyDelivered` or `requestFailed` events, and the destination's confirmation as
    /// `destinationConfirmed`.
    /// - Parameter awaitingConfirmation: a client waits for `destinationConfirmed` (a box's local request):
    ///   the destination's `delivered` notice then travels back at once. Otherwise (background traffic,
    ///   such as refilling a stock of keys) it may wait up to `deliveredHold` per hop to share a frame.
    /// - Throws: ``RequestError`` when it cannot even start (unknown destination, size, table full, no route).
    public func request(
        destination: NodeID, units: Int, now: Nanoseconds, outbox: Outbox, awaitingConfirmation: Bool = false
    ) throws(RequestError) -> RequestID {
        stepNow = now
        guard destination != node else { throw .destinationIsSelf }
        guard topology.index(of: destination) != nil else { throw .unknownDestination }
        guard units >= 1 && units <= configuration.maxRequestUnits else { throw .badSize }
        guard let slot = sourceSlots.take() else { throw .tableFull }
        nextSerial &+= 1
        let id = RequestID(source: node, serial: nextSerial)
        var src = SourceRequest()
        src.active = true
        src.request = id
        src.destination = destination
        src.size = UInt16(units)
        src.arrival = now
        src.deadline = now &+ configuration.latencyBudget
        src.noticeAwaited = awaitingConfirmation
        let want = configuration.paths > 1 ? configuration.paths : min(4, 1 + configuration.reroutes)
        // One path at a time with least-delay routing: the candidates after the first are needed only when
        // it fails, and they depend on the topology alone, so they are searched then
        // (``searchDeferredPaths(_:)``; the router returns the same list, its first path included).
        let deferred = configuration.paths == 1 && !configuration.keyAwareRouting && want > 1
        refreshOwnLinkLevels()
        src.pathCount = UInt8(
            router.paths(
                from: node, to: destination, units: units, keyAware: configuration.keyAwareRouting,
                count: deferred ? 1 : want, into: &src.paths))
        if deferred { src.deferredPaths = UInt8(want) }
        guard src.pathCount > 0 else {
            sourceSlots.give(slot)
            throw .noRoute
        }
        includeDirectPath(&src, units: units, want: want)
        guard sourceIndex.insert(id, 0, slot: slot) else {
            sourceSlots.give(slot)
            throw .tableFull
        }
        sources[slot] = src
        if slot + 1 > sourceHighWater { sourceHighWater = slot + 1 }
        counters.requestsStarted += 1
        if configuration.paths > 1 {
            // Adaptive: when the best path has the key now (as far as this node knows), one branch is
            // enough; the other candidates are searched only if it fails.
            let alone = configuration.adaptiveMultipath && pathHasKey(src.paths[0], units: units)
            let launch = alone ? 1 : Int(src.pathCount)
            sources[slot].nextPath = UInt8(launch - 1)
            var b = 0
            while b < launch {
                launchBranch(slot, path: b, now: now, outbox: outbox)
                b += 1
            }
        } else {
            launchBranch(slot, path: 0, now: now, outbox: outbox)
        }
        return id
    }

    /// Whether every link of `path` has at least max(`units`, 16) free delivered units by this node's
    /// knowledge (own links exact, others from link state, whose bands only tell "16 or more" reliably).
    func pathHasKey(_ path: Path, units: Int) -> Bool {
        knownLevels(of: path, from: 0, atLeast: max(units, 16))
    }

    /// Whether every link of `path` from hop `first` on has at least `units` free delivered units by this
    /// node's knowledge (the router's levels: own links exact, others from link state).
    func knownLevels(of path: Path, from first: Int, atLeast units: Int) -> Bool {
        var h = first
        while h < path.hops {
            guard let linkIndex = topology.linkIndex[path.link(h)], router.knownLevel(link: linkIndex) >= Double(units) else {
                return false
            }
            h += 1
        }
        return true
    }

    /// Records the direct (least-delay) path's hop count, and makes sure the direct path is a candidate:
    /// key-aware costs may rank only detours first, and a detour may take only spare key
    /// (`EngineConfiguration.detourBudget`), so the direct path must remain to fall back on.
    private func includeDirectPath(_ src: inout SourceRequest, units: Int, want: Int) {
        guard let hops = router.directHops(to: src.destination) else {
            src.directHops = UInt8(src.paths[0].hops)
            return
        }
        src.directHops = UInt8(hops)
        var i = 0
        while i < Int(src.pathCount) {
            if src.paths[i].hops <= hops { return }
            i += 1
        }
        // Only detours were found (key-aware costs): add the direct path itself.
        var direct = InlineArray<4, Path>(repeating: Path())
        guard router.paths(from: node, to: src.destination, units: units, keyAware: false, count: 1, into: &direct) == 1
        else { return }
        if Int(src.pathCount) < min(4, max(want, 1)) {
            src.paths[Int(src.pathCount)] = direct[0]
            src.pathCount += 1
        } else {
            src.paths[Int(src.pathCount) - 1] = direct[0]
        }
    }

    /// Stores key units delivered by the device of the link to `neighbour` and completes whatever
    /// was waiting for them.
    /// - Throws: ``KeyPoolError`` (`.full`: deliver later; `.outOfOrder`; `.badLength`).
    public func deliverKey(
        from neighbour: NodeID, index: UnitIndex, bytes: UnsafeRawBufferPointer, now: Nanoseconds, outbox: Outbox
    ) throws(KeyPoolError) {
        stepNow = now
        guard let session = self.session(of: neighbour) else {
            reject(.unknownLink, outbox)
            throw .notStarted
        }
        counters.unitsDiscarded += UInt64(try pools[session].deliver(index: index, bytes: bytes))
        noteDelivery(session, units: bytes.count / configuration.unitSize, now: now)
        if pendingCount > 0 { runPending(session: session, now: now, outbox: outbox) }
    }

    /// Handles one message from a neighbour. Invalid input is refused with a counted
    /// ``InputRejection`` (also reported as an event) and leaves the state unchanged.
    public func receive(_ message: Message, payload: UnsafeRawBufferPointer, now: Nanoseconds, outbox: Outbox) {
        stepNow = now
        counters.messagesReceived += 1
        guard message.to == node, let session = self.session(of: message.from) else { return reject(.unknownNeighbour, outbox) }
        switch message.kind {
        case .hello: return handleHello(message, session, now: now, outbox: outbox)
        case .resync: return handleResync(message, session, now: now, outbox: outbox)
        default: break
        }
        guard message.incarnation == sessions[session].peerIncarnation else {
            return reject(message.incarnation < sessions[session].peerIncarnation ? .staleIncarnation : .wrongIncarnation, outbox)
        }
        guard message.peerIncarnation == incarnation else { return reject(.wrongIncarnation, outbox) }
        guard message.sequence > sessions[session].receiveSequence else { return reject(.duplicateOrStale, outbox) }
        guard sessions[session].up else { return reject(.linkNotUp, outbox) }
        sessions[session].receiveSequence = message.sequence
        switch message.kind {
        case .reserve: handleReserve(message, session, now: now, outbox: outbox)
        case .confirm: handleConfirm(message, session, now: now, outbox: outbox)
        case .fail: handleFail(message, session, now: now, outbox: outbox)
        case .commit: handleCommit(message, session, payload: payload, now: now, outbox: outbox)
        case .share: handleShare(message, session, payload: payload, now: now, outbox: outbox)
        case .release: handleRelease(message, session, now: now, outbox: outbox)
        case .abort: handleAbort(message, session, now: now, outbox: outbox)
        case .abortReply: handleAbortReply(message, session, now: now, outbox: outbox)
        case .linkState: handleLinkState(message, session, now: now, outbox: outbox)
        case .delivered: handleDelivered(message, session, now: now, outbox: outbox)
        case .hello, .resync: break
        }
    }

    /// Runs timers due at `now`: handshake retries, link-state announcements, leases, branch decisions.
    public func tick(now: Nanoseconds, outbox: Outbox) {
        stepNow = now
        guard now >= nextTimer || now >= nextLinkState else { return }
        var next: Nanoseconds = .max
        var i = 0
        while i < sessionCount {
            if !sessions[i].up {
                if sessions[i].helloDue <= now { sendHello(i, now: now, outbox: outbox) }
                next = min(next, sessions[i].helloDue)
            }
            if sessions[i].heldCount > 0 {
                if sessions[i].heldDeadline <= now { releaseHeld(i, outbox) } else { next = min(next, sessions[i].heldDeadline) }
            }
            i += 1
        }
        if configuration.linkStateInterval > 0 {
            if now >= nextLinkState {
                announceLinkState(now: now, outbox: outbox)
                let check = configuration.linkStateCheckInterval
                nextLinkState = now &+ (check > 0 ? min(check, configuration.linkStateInterval) : configuration.linkStateInterval)
            }
        }
        if pendingRetry { runAllPending(now: now, outbox: outbox) }
        if pendingRetry { next = min(next, now &+ 1_000_000) }
        var slot = 0
        while slot < sourceHighWater {
            if sources[slot].active && !sources[slot].decided && sources[slot].decisionAt <= now {
                decide(slot, now: now, outbox: outbox)
            }
            if sources[slot].active && !sources[slot].decided { next = min(next, sources[slot].decisionAt) }
            slot += 1
        }
        slot = 0
        while slot < recordHighWater {
            if records[slot].state != .free {
                if records[slot].expiry <= now { expire(slot, now: now, outbox: outbox) }
                if records[slot].state != .free { next = min(next, records[slot].expiry) }
            }
            slot += 1
        }
        nextTimer = next
    }

    /// Time of the next link-state announcement (`.max` when disabled).
    public var nextAnnouncement: Nanoseconds {
        configuration.linkStateInterval > 0 ? nextLinkState : .max
    }

    /// Number of request branches with state at this node.
    public var activeRecords: Int { recordSlots.inUse }
    /// Number of requests this node has outstanding as a source.
    public var activeSourceRequests: Int { sourceSlots.inUse }
    /// Units proposed or bound across all pools.
    public var heldUnits: Int { pools.reduce(0) { $0 + $1.heldUnits } }

    /// `delivered` notices and link-state announcements waiting at this node to ride with the next message
    /// to `neighbour` (``EngineConfiguration/deliveredHold``, ``EngineConfiguration/linkStateHold``); 0 for a
    /// node that is not a neighbour.
    public func heldMessages(toward neighbour: NodeID) -> Int {
        guard let s = session(of: neighbour) else { return 0 }
        return sessions[s].heldCount
    }
}
