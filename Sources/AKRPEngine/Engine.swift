/// The AKRP protocol engine of one node: sans-I/O, fixed memory.
///
/// The shell feeds it local key requests, messages from neighbours, key units delivered by the link
/// devices, and time; the engine writes messages, delivered keys and events into a caller-provided
/// ``Outbox``. It never reads a clock and allocates nothing after ``init(node:topology:configuration:incarnation:)``.
/// Same inputs in the same order give the same outputs. The protocol is specified in `docs/PROTOCOL.md`.
public final class Engine {
    public let node: NodeID
    public let incarnation: UInt64
    /// The configuration; only the admission settings change after start (``tuneAdmission(latencyBudget:yieldMargin:)``).
    public internal(set) var configuration: EngineConfiguration
    public let topology: Topology
    public let router: Router
    /// Counters live behind a pointer: bumping them on hot paths needs no exclusivity check.
    let countersStorage: UnsafeMutablePointer<EngineCounters>
    /// Counters of this engine.
    public internal(set) var counters: EngineCounters {
        get { countersStorage.pointee }
        _modify { yield &countersStorage.pointee }
        set { countersStorage.pointee = newValue }
    }

    /// One session per neighbour (fixed at start-up), behind a pointer for the same reason.
    let sessions: UnsafeMutablePointer<Session>
    let sessionCount: Int
    /// Key pool per session (same index).
    public let pools: [KeyPool]
    let records: UnsafeMutablePointer<Record>
    let recordSlots: SlotAllocator
    let recordIndex: SlotIndex
    /// Highest record slot ever used plus one (timer scans stop there).
    var recordHighWater = 0
    let sources: UnsafeMutablePointer<SourceRequest>
    let sourceSlots: SlotAllocator
    let sourceIndex: SlotIndex
    var sourceHighWater = 0
    /// Destination accumulators: `accumulatorCapacity` buffers of `maxRequestUnits * unitSize` bytes.
    let accumulators: UnsafeMutableRawBufferPointer
    let accumulatorSlots: SlotAllocator
    /// Committed records waiting for key delivery.
    let pending: UnsafeMutablePointer<Int32>
    var pendingCount = 0
    /// Pending completions could not get outbox room: retry them all at the next tick.
    var pendingRetry = false
    /// Link-state serials seen per topology link and end (low = 0, high = 1).
    let linkStateSerials: UnsafeMutablePointer<UInt32>
    var nextSerial: UInt32
    var nextLinkState: Nanoseconds = 0
    /// Earliest time at which ``tick(now:outbox:)`` has work.
    public internal(set) var nextTimer: Nanoseconds = .max
    let keyBytes: Int

    /// Creates the engine of `node`, allocating every table and pool.
    /// - Parameter incarnation: distinct and increasing across restarts of this node (e.g. a boot counter).
    /// - Throws: ``ConfigurationError`` when the configuration is invalid or the node is not in the topology
    ///   or has more neighbours than `maxNeighbours`.
    public init(
        node: NodeID, topology: Topology, configuration: EngineConfiguration, incarnation: UInt64
    ) throws(ConfigurationError) {
        try configuration.validate()
        guard topology.index(of: node) != nil else { throw .topology("node \(node.rawValue) is not in the topology") }
        guard incarnation > 0 else { throw .invalid(field: "incarnation", reason: "must be positive") }
        self.node = node
        self.incarnation = incarnation
        self.configuration = configuration
        self.topology = topology
        router = Router(topology: topology)
        router.prepareDirectHops(from: node)
        let neighbours = topology.neighbours(of: node)
        guard neighbours.count <= configuration.maxNeighbours else {
            throw .invalid(field: "maxNeighbours", reason: "node \(node.rawValue) has \(neighbours.count) links")
        }
        var s: [Session] = []
        var p: [KeyPool] = []
        for (peer, li) in neighbours {
            let l = topology.links[li]
            var session = Session(peer: peer, link: l.id, topologyIndex: li, unitInterval: 1e9 / l.unitsPerSecond)
            // Link-state serials continue across restarts: a new incarnation starts far ahead.
            session.linkStateSerial = UInt32(truncatingIfNeeded: incarnation) &<< 20
            s.append(session)
            p.append(
                KeyPool(
                    capacity: configuration.poolCapacity, unitSize: configuration.unitSize,
                    ownershipBlock: configuration.ownershipBlock, isLowEnd: node < peer))
        }
        sessionCount = s.count
        sessions = .allocate(capacity: max(1, s.count))
        sessions.initialize(from: s, count: s.count)
        countersStorage = .allocate(capacity: 1)
        countersStorage.initialize(to: EngineCounters())
        pools = p
        records = .allocate(capacity: configuration.recordCapacity)
        records.initialize(repeating: Record(), count: configuration.recordCapacity)
        recordSlots = SlotAllocator(capacity: configuration.recordCapacity)
        recordIndex = SlotIndex(capacity: configuration.recordCapacity)
        sources = .allocate(capacity: configuration.sourceCapacity)
        sources.initialize(repeating: SourceRequest(), count: configuration.sourceCapacity)
        sourceSlots = SlotAllocator(capacity: configuration.sourceCapacity)
        sourceIndex = SlotIndex(capacity: configuration.sourceCapacity)
        keyBytes = configuration.maxRequestUnits * configuration.unitSize
        accumulators = .allocate(byteCount: configuration.accumulatorCapacity * keyBytes, alignment: 16)
        accumulators.initializeMemory(as: UInt8.self, repeating: 0)
        accumulatorSlots = SlotAllocator(capacity: configuration.accumulatorCapacity)
        pending = .allocate(capacity: configuration.recordCapacity)
        pending.initialize(repeating: -1, count: configuration.recordCapacity)
        linkStateSerials = .allocate(capacity: max(1, topology.links.count * 2))
        linkStateSerials.initialize(repeating: 0, count: max(1, topology.links.count * 2))
        nextSerial = UInt32(truncatingIfNeeded: incarnation & 0xFFF) << 20
    }

    deinit {
        sessions.deinitialize(count: sessionCount)
        sessions.deallocate()
        countersStorage.deinitialize(count: 1)
        countersStorage.deallocate()
        wipe(accumulators)
        records.deinitialize(count: configuration.recordCapacity)
        records.deallocate()
        sources.deinitialize(count: configuration.sourceCapacity)
        sources.deallocate()
        accumulators.deallocate()
        pending.deallocate()
        linkStateSerials.deallocate()
    }

    /// Bytes of memory this engine allocated at start-up (pools, tables, buffers).
    public var memoryFootprint: Int {
        Engine.memoryFootprint(configuration: configuration, topology: topology, links: pools.count)
    }

    /// Bytes an engine with `configuration` on `topology` allocates at start-up for a node with `links`
    /// links (to check a configuration fits before building thousands of engines).
    public static func memoryFootprint(configuration c: EngineConfiguration, topology: Topology, links: Int) -> Int {
        let keyBytes = c.maxRequestUnits * c.unitSize
        var total = c.recordCapacity * MemoryLayout<Record>.stride
        total += c.sourceCapacity * MemoryLayout<SourceRequest>.stride
        total += c.accumulatorCapacity * keyBytes
        total += c.recordCapacity * 4 * 2 + c.sourceCapacity * 4 * 2
        total += recordIndexBytes(c.recordCapacity) + recordIndexBytes(c.sourceCapacity)
        total += links * c.poolCapacity * (c.unitSize + 1 + 4)
        total += topology.nodes.count * 24 + topology.links.count * 24
        total += links * MemoryLayout<Session>.stride
        return total
    }

    private static func recordIndexBytes(_ capacity: Int) -> Int {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        return size * 13
    }

    // MARK: - Shell API

    /// Starts the link handshakes: a hello to every neighbour.
    public func start(now: Nanoseconds, outbox: Outbox) {
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
        guard let s = session(of: neighbour) else { return nil }
        return pools[s]
    }

    /// Whether the link to `neighbour` has completed its handshake.
    public func isLinkUp(toward neighbour: NodeID) -> Bool {
        guard let s = session(of: neighbour) else { return false }
        return sessions[s].up
    }

    /// The neighbours of this node, in session order.
    public var neighbours: [NodeID] { (0..<sessionCount).map { sessions[$0].peer } }

    /// Asks for an end-to-end key of `units` units to `destination`. The outcome arrives later as
    /// `keyDelivered` or `requestFailed` events.
    /// - Throws: ``RequestError`` when it cannot even start (unknown destination, size, table full, no route).
    public func request(
        destination: NodeID, units: Int, now: Nanoseconds, outbox: Outbox
    ) throws(RequestError) -> RequestID {
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
        let want = configuration.paths > 1 ? configuration.paths : min(4, 1 + configuration.reroutes)
        refreshOwnLinkLevels()
        src.pathCount = UInt8(
            router.paths(
                from: node, to: destination, units: units, keyAware: configuration.keyAwareRouting,
                count: want, into: &src.paths))
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
        var h = 0
        while h < path.hops {
            guard let li = topology.linkIndex[path.link(h)], router.knownLevel(link: li) >= Double(max(units, 16)) else {
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
        guard let s = session(of: neighbour) else {
            reject(.unknownLink, outbox)
            throw .notStarted
        }
        counters.unitsDiscarded += UInt64(try pools[s].deliver(index: index, bytes: bytes))
        noteDelivery(s, units: bytes.count / configuration.unitSize, now: now)
        if pendingCount > 0 { runPending(session: s, now: now, outbox: outbox) }
    }

    /// Handles one message from a neighbour. Invalid input is refused with a counted
    /// ``InputRejection`` (also reported as an event) and leaves the state unchanged.
    public func receive(_ m: Message, payload: UnsafeRawBufferPointer, now: Nanoseconds, outbox: Outbox) {
        counters.messagesReceived += 1
        guard m.to == node, let s = session(of: m.from) else { return reject(.unknownNeighbour, outbox) }
        switch m.kind {
        case .hello: return handleHello(m, s, now: now, outbox: outbox)
        case .resync: return handleResync(m, s, now: now, outbox: outbox)
        default: break
        }
        guard m.incarnation == sessions[s].peerIncarnation else {
            return reject(m.incarnation < sessions[s].peerIncarnation ? .staleIncarnation : .wrongIncarnation, outbox)
        }
        guard m.peerIncarnation == incarnation else { return reject(.wrongIncarnation, outbox) }
        guard m.sequence > sessions[s].receiveSequence else { return reject(.duplicateOrStale, outbox) }
        guard sessions[s].up else { return reject(.linkNotUp, outbox) }
        sessions[s].receiveSequence = m.sequence
        switch m.kind {
        case .reserve: handleReserve(m, s, now: now, outbox: outbox)
        case .confirm: handleConfirm(m, s, now: now, outbox: outbox)
        case .fail: handleFail(m, s, now: now, outbox: outbox)
        case .commit: handleCommit(m, s, payload: payload, now: now, outbox: outbox)
        case .share: handleShare(m, s, payload: payload, now: now, outbox: outbox)
        case .release: handleRelease(m, s, now: now, outbox: outbox)
        case .abort: handleAbort(m, s, now: now, outbox: outbox)
        case .abortReply: handleAbortReply(m, s, now: now, outbox: outbox)
        case .linkState: handleLinkState(m, s, outbox: outbox)
        case .delivered: handleDelivered(m, s, now: now, outbox: outbox)
        case .hello, .resync: break
        }
    }

    /// Runs timers due at `now`: handshake retries, link-state announcements, leases, branch decisions.
    public func tick(now: Nanoseconds, outbox: Outbox) {
        guard now >= nextTimer || now >= nextLinkState else { return }
        var next: Nanoseconds = .max
        var i = 0
        while i < sessionCount {
            if !sessions[i].up {
                if sessions[i].helloDue <= now { sendHello(i, now: now, outbox: outbox) }
                next = min(next, sessions[i].helloDue)
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

    // MARK: - Helpers

    @inline(__always)
    func noteTimer(_ t: Nanoseconds) { if t < nextTimer { nextTimer = t } }

    @inline(__always)
    func reject(_ r: InputRejection, _ outbox: Outbox) {
        counters.rejections[Int(r.rawValue)] += 1
        var e = EngineEvent(kind: .inputRejected)
        e.rejection = r
        outbox.push(event: e)
    }

    @inline(__always)
    func token(_ slot: Int) -> UInt32 { UInt32(slot + 1) }

    /// Sends `m` to the neighbour of session `s`, stamping the link header.
    @inline(__always)
    func send(_ m: inout Message, _ s: Int, _ outbox: Outbox, payloadOffset: Int = 0) {
        sessions[s].sendSequence += 1
        m.from = node
        m.to = sessions[s].peer
        m.incarnation = incarnation
        m.peerIncarnation = sessions[s].peerIncarnation
        m.sequence = sessions[s].sendSequence
        if outbox.push(m, payloadOffset: payloadOffset) {
            counters.messagesSent += 1
        } else {
            var e = EngineEvent(kind: .outboxOverflow)
            e.request = m.request
            outbox.push(event: e)
        }
    }

    func allocateRecord(_ m: Message, position: Int) -> Int? {
        guard let slot = recordSlots.take() else { return nil }
        guard recordIndex.insert(m.request, m.branch, slot: slot) else {
            recordSlots.give(slot)
            return nil
        }
        if slot + 1 > recordHighWater { recordHighWater = slot + 1 }
        var r = Record()
        r.request = m.request
        r.branch = m.branch
        r.position = UInt8(position)
        r.path = m.path
        r.size = m.size
        r.deadline = m.time
        records[slot] = r
        return slot
    }

    func freeRecord(_ slot: Int) {
        let r = records[slot]
        if r.accumulator >= 0 {
            let a = Int(r.accumulator)
            wipe(UnsafeMutableRawBufferPointer(rebasing: accumulators[(a * keyBytes)..<((a + 1) * keyBytes)]))
            accumulatorSlots.give(a)
        }
        if r.pendingIndex >= 0 { removePending(slot) }
        recordIndex.remove(r.request, r.branch)
        records[slot] = Record()
        recordSlots.give(slot)
    }

    func addPending(_ slot: Int) {
        guard records[slot].pendingIndex < 0 else { return }
        pending[pendingCount] = Int32(slot)
        records[slot].pendingIndex = Int16(pendingCount)
        pendingCount += 1
    }

    func removePending(_ slot: Int) {
        let i = Int(records[slot].pendingIndex)
        guard i >= 0 else { return }
        pendingCount -= 1
        let moved = Int(pending[pendingCount])
        pending[i] = Int32(moved)
        records[moved].pendingIndex = Int16(i)
        records[slot].pendingIndex = -1
    }

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
