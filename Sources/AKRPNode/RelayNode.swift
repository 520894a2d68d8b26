public import AKRPConfig
import AKRPDevice
public import AKRPEngine
import AKRPKeySource
import AKRPWire
public import Logging
public import NIOCore
import NIOPosix

/// Why the box cannot start. Each case says what to fix.
public enum NodeStartError: Error, CustomStringConvertible {
    /// The engine refused the configuration.
    case engine(ConfigurationError)
    /// The state directory or audit log cannot be used.
    case state(StateStoreError)
    /// A key source could not be set up (`neighbour` names the link).
    case keySource(neighbour: NodeID, reason: String)
    /// A listener could not be bound.
    case listen(what: String, address: String, reason: String)

    /// A one-line English message saying what failed and where (neighbour, address, file).
    public var description: String {
        switch self {
        case .engine(let e): "engine configuration: \(e)"
        case .state(let e): "state: \(e)"
        case .keySource(let n, let reason): "[neighbour \(n.rawValue)] key source: \(reason)"
        case .listen(let what, let address, let reason): "cannot listen for \(what) on \(address): \(reason)"
        }
    }
}

/// The box shell: one ``Engine`` confined to one event loop, connected to its key sources, its
/// neighbours over TCP, the local control socket, the key store, the audit log and the durable
/// high-water marks.
///
/// Every method runs on ``loop``; that confinement is why the class can be `@unchecked Sendable`
/// (channel handlers and timers on the same loop call into it directly; other threads — a USB device's
/// event thread — hop onto the loop first). Each engine input is one *step*: feed the input, then
/// ``finishStep(now:)`` drains the outbox in a fixed order — events, marks made durable, audit written,
/// then frames and answers sent — and re-arms the one timer (the shape of quinn's endpoint driver).
public final class RelayNode: @unchecked Sendable {
    /// The configuration the box was made with.
    public let configuration: NodeConfiguration
    /// The one event loop every method of the box runs on.
    public let loop: any EventLoop
    let group: MultiThreadedEventLoopGroup
    let logger: Logger
    let engine: Engine
    let outbox: Outbox
    var clock = WallClock()
    let state: StateStore
    let audit: AuditLog
    let keys: KeyStore
    /// Neighbours in engine session order.
    var peers: [NodeID: Peer] = [:]
    var feeds: [NodeID: LinkFeed] = [:]
    var pendingRequests: [RequestID: PendingRequest] = [:]
    var controlConnections: [ObjectIdentifier: ControlChannelHandler] = [:]
    var counters = NodeCounters()
    /// Answers to local key requests made ready by absorbed steps, sent at the next release.
    var answers: [(PendingRequest, RequestID, SecretBytes?, UInt8)] = []
    /// Absorbed steps have output that waits for ``release(now:)``.
    var releasePending = false
    /// Time from the first bytes of one read of a neighbour connection to the frames they caused being
    /// handed to the kernel: the latency a relay adds per hop, network excluded.
    var relayStepLatency = LatencyHistogram()
    /// Time from a local key request to its answer.
    var localRequestLatency = LatencyHistogram()
    let startedAt: Nanoseconds
    var shuttingDown = false
    var stopped = false
    var peerListener: (any Channel)?
    var controlListener: (any Channel)?
    var timer: Scheduled<Void>?
    var timerDeadline: Nanoseconds = .max
    let usbContext: USBContext?
    /// Scratch buffers reused by every step (allocated once).
    let frameBuffer: UnsafeMutableRawBufferPointer
    let payloadBuffer: UnsafeMutableRawBufferPointer
    /// Largest neighbour frame this box sends or accepts.
    let maximumFrameSize: Int
    // MARK: management (SMP, issue 10)
    lazy var management = ManagementServer(node: self)
    /// Yields when the box should stop and `akrpd` start again (``restartRequested``).
    public let restartSignal = AsyncStream<Void>.makeStream()
    var restartFlag = false
    /// Key delivery (ETSI 014): offered every key delivered here as a destination before the key store;
    /// returns true when it keeps the key (see `RelayNode+KeyDelivery.swift`). Set and called on ``loop``.
    var relayClaim: ((RequestID, UnsafeRawBufferPointer) -> Bool)?
    /// Statistics groups kept by other parts of the box (``addStatisticsGroup(_:figures:)``), by name.
    var extraStatistics: [String: () -> [(String, UInt64)]] = [:]
    /// The engine has been started (``start()``): requests may be made.
    var engineStarted = false

    /// Builds the box from its configuration: state directory (incarnation made durable), audit log,
    /// engine, key sources and pool positions. Binds nothing yet; call ``start()``.
    /// - Throws: ``NodeStartError`` naming what is wrong.
    public init(configuration c: NodeConfiguration, logger: Logger) throws(NodeStartError) {
        configuration = c
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        let topology: Topology
        do throws(ConfigurationError) {
            topology = try c.topology.topology(unitSize: c.engine.unitSize)
        } catch { throw .engine(error) }
        do throws(StateStoreError) {
            state = try StateStore(directory: c.stateDirectory)
            audit = try AuditLog(directory: c.stateDirectory, node: c.node)
        } catch { throw .state(error) }
        let incarnation: UInt64
        do throws(StateStoreError) { incarnation = try state.beginIncarnation() } catch { throw .state(error) }
        do throws(ConfigurationError) {
            engine = try Engine(node: c.node, topology: topology, configuration: c.engine, incarnation: incarnation)
        } catch { throw .engine(error) }
        outbox = Outbox(for: c.engine)
        keys = KeyStore(capacity: c.keyStore.capacity, expiry: c.keyStore.expiry)
        maximumFrameSize = min(
            WireFormat.defaultMaximumFrameSize, WireFormat.headerLength + 256 + c.engine.maxRequestUnits * c.engine.unitSize
                + WireFormat.tagLength + 1024)
        frameBuffer = .allocate(byteCount: WireFormat.defaultMaximumFrameSize, alignment: 16)
        frameBuffer.initializeMemory(as: UInt8.self, repeating: 0)
        payloadBuffer = .allocate(byteCount: WireFormat.defaultMaximumFrameSize, alignment: 16)
        payloadBuffer.initializeMemory(as: UInt8.self, repeating: 0)
        var now = clock.now()
        startedAt = now
        let needsUSB = c.neighbours.contains { if case .usb = $0.source { true } else { false } }
        if needsUSB {
            do throws(DeviceError) { usbContext = try USBContext() } catch {
                let first = c.neighbours.first { if case .usb = $0.source { true } else { false } }
                throw .keySource(neighbour: first?.node ?? .none, reason: "USB: \(error)")
            }
        } else {
            usbContext = nil
        }
        for n in c.neighbours {
            peers[n.node] = Peer(neighbour: n.node, address: n.address, dials: c.node < n.node)
        }
        now = clock.now()
        try makeFeeds(now: now)
        audit.started(incarnation: incarnation, now: now)
        audit.flush(now: now)
        logger.info(
            "box ready",
            metadata: [
                "node": "\(c.node.rawValue)", "name": "\(c.name)", "incarnation": "\(incarnation)",
                "neighbours": "\(c.neighbours.map { $0.node.rawValue })",
            ])
    }

    deinit {
        wipe(frameBuffer)
        wipe(payloadBuffer)
        frameBuffer.deallocate()
        payloadBuffer.deallocate()
    }

    /// This run's incarnation.
    public var incarnation: UInt64 { engine.incarnation }

    // MARK: - Start and stop

    /// Binds the peer listener and the control socket, starts the engine and dials the neighbours with a
    /// lower… higher node ID (the lower ID dials).
    public func start() async throws(NodeStartError) {
        let peerAddress = configuration.listen
        do {
            peerListener = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try self.configurePeerChannel(channel, dialled: nil)
                    }
                }
                .bind(host: peerAddress.host, port: Int(peerAddress.port)).get()
        } catch {
            throw .listen(what: "neighbours", address: peerAddress.description, reason: "\(error)")
        }
        let socketPath = configuration.controlSocket
        do {
            try ControlSocketPath.prepare(socketPath)
            controlListener = try await ServerBootstrap(group: group)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ControlChannelHandler(node: self))
                    }
                }
                .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).get()
            try ControlSocketPath.restrict(socketPath)
        } catch {
            throw .listen(what: "the control socket", address: socketPath, reason: "\(error)")
        }
        try await startManagement()
        let bound = peerListener?.localAddress?.description ?? peerAddress.description
        try? await loop.submit { [self] in
            let now = clock.now()
            engine.start(now: now, outbox: outbox)
            engineStarted = true
            finishStep(now: now)
            for peer in peers.values where peer.dials { dial(peer) }
            pollSources()
        }.get()
        logger.info("listening", metadata: ["peers": "\(bound)", "control": "\(socketPath)"])
    }

    /// The TCP port the peer listener is bound to (useful with port 0 in tests).
    public var peerPort: Int? { peerListener?.localAddress?.port }

    /// Graceful stop: refuses new key requests, lets requests in flight finish or time out within
    /// `deadline` nanoseconds, then closes every connection, wipes every key held and stops the loop.
    public func shutdown(deadline: Nanoseconds = 5_000_000_000) async {
        let start = await (try? loop.submit { [self] () -> Nanoseconds in
            shuttingDown = true
            logger.info("shutting down", metadata: ["in-flight": "\(pendingRequests.count)"])
            return clock.now()
        }.get()) ?? 0
        while true {
            let remaining = (try? await loop.submit { [self] in pendingRequests.count }.get()) ?? 0
            if remaining == 0 { break }
            let now = (try? await loop.submit { [self] in clock.now() }.get()) ?? .max
            if now >= start &+ deadline { break }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        try? await loop.submit { [self] in stopOnLoop() }.get()
        for feed in feeds.values { feed.close() }
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }

    private func stopOnLoop() {
        stopped = true
        timer?.cancel()
        timer = nil
        let now = clock.now()
        for (id, pending) in pendingRequests {
            pending.respond(status: KeyResponseStatus.shuttingDown.rawValue, key: nil, id: id)
        }
        pendingRequests.removeAll()
        keys.removeAll()
        for peer in peers.values {
            peer.reconnect?.cancel()
            peer.channel?.close(promise: nil)
            peer.dropQueues()
        }
        for handler in controlConnections.values { handler.close() }
        management.stop()
        controlListener?.close(promise: nil)
        peerListener?.close(promise: nil)
        audit.flush(now: now)
        // Nothing leaves any more: the next start may begin exactly where this one stopped.
        var exact: [(NodeID, UnitIndex)] = []
        for n in engine.neighbours {
            guard let pool = engine.pool(toward: n), pool.started else { continue }
            exact.append((n, max(pool.tail, pool.referencedEnd)))
        }
        do throws(StateStoreError) { try state.settle(exact) } catch {
            logger.error("cannot record the exact high-water marks; the next start skips a step", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - The step

    /// Drains the outbox after one engine input and releases everything that waits, in the order that
    /// keeps `kill -9` safe (see ``release(now:)``).
    func finishStep(now: Nanoseconds) {
        absorb(now: now)
        release(now: now)
    }

    /// Drains the outbox after one engine input (its capacity is per call): keys into the store or to the
    /// waiting clients' answers, audit lines into the audit buffer, messages into their neighbours'
    /// queues. Nothing leaves the box here: frames from one read of a connection are absorbed one by
    /// one and released together, with one durable-mark check, one audit write and one socket write per
    /// neighbour.
    func absorb(now: Nanoseconds) {
        var e = 0
        while e < outbox.eventCount {
            handle(event: outbox.event(e), now: now)
            e += 1
        }
        var m = 0
        while m < outbox.messageCount {
            queue(message: outbox.message(m), payload: outbox.payload(m))
            m += 1
        }
        if outbox.droppedMessages > counters.outboxDroppedMessages {
            counters.outboxDroppedMessages = outbox.droppedMessages
        }
        outbox.clear()
        releasePending = true
    }

    /// Lets out what the absorbed steps produced, in the order that keeps `kill -9` safe: the high-water
    /// marks made durable first, then the audit lines written, and only then answers and frames leave
    /// (the authentication units the frames spend are written to the audit log before the frames go).
    func release(now: Nanoseconds) {
        guard releasePending, !stopped else { return }
        releasePending = false
        guard secureMarks(now: now) else { return }
        // Seal first: the authentication units the frames spend join this step's audit lines, and one
        // write puts them all on disk before anything leaves.
        let writes = sealAll()
        audit.flush(now: now)
        let ready = answers
        answers.removeAll(keepingCapacity: true)
        for (pending, id, key, status) in ready { pending.respond(status: status, key: key, id: id) }
        for (channel, buffer) in writes { channel.writeAndFlush(buffer, promise: nil) }
        armTimer(now: now)
    }

    /// Advances and makes durable the high-water mark of every link end whose delivered or referenced
    /// units reach it. Returns false when the marks cannot be written: then nothing may leave the box,
    /// and the box stops (an operator must look at the disk).
    func secureMarks(now: Nanoseconds) -> Bool {
        var updates: [(NodeID, UnitIndex)] = []
        for n in engine.neighbours {
            guard let pool = engine.pool(toward: n), pool.started else { continue }
            let used = max(pool.tail, pool.referencedEnd)
            if used >= state.mark(n) {
                updates.append((n, used &+ configuration.highWaterStep))
            }
        }
        guard !updates.isEmpty else { return true }
        do throws(StateStoreError) {
            try state.raise(updates)
            counters.markWrites += 1
            return true
        } catch {
            logger.critical("cannot make high-water marks durable; stopping", metadata: ["error": "\(error)"])
            emergencyStop()
            return false
        }
    }

    /// Stops sending anything at once (the durable state cannot be trusted to be written).
    func emergencyStop() {
        stopped = true
        for peer in peers.values {
            peer.channel?.close(promise: nil)
            peer.dropQueues()
        }
        outbox.clear()
        for (id, pending) in pendingRequests {
            pending.respond(status: KeyResponseStatus.shuttingDown.rawValue, key: nil, id: id)
        }
        pendingRequests.removeAll()
        keys.removeAll()
    }

    // MARK: - Timer

    /// Runs the engine's timers, the key sources that are due, request timeouts and key expiry.
    func timerFired() {
        timer = nil
        timerDeadline = .max
        guard !stopped else { return }
        let now = clock.now()
        if now >= engine.nextTimer || now >= engine.nextAnnouncement {
            engine.tick(now: now, outbox: outbox)
            finishStep(now: now)
        }
        expireRequests(now: now)
        keys.expire(now: now)
        checkStalledPools(now: now)
        sendPositions(now: now)
        pollSources()
        armTimer(now: clock.now())
    }

    /// Schedules the one timer at the earliest deadline of the engine, the sources, the waiting requests
    /// and the key store (at most one second away, so that housekeeping runs).
    func armTimer(now: Nanoseconds) {
        guard !stopped else { return }
        var deadline = min(engine.nextTimer, engine.nextAnnouncement)
        deadline = min(deadline, keys.nextExpiry)
        deadline = min(deadline, nextRequestDeadline)
        for feed in feeds.values {
            if let ready = feed.nextPoll { deadline = min(deadline, ready) }
        }
        deadline = min(deadline, now &+ 1_000_000_000)
        deadline = max(deadline, now &+ 200_000)
        if timer != nil && timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = loop.scheduleTask(in: .nanoseconds(Int64(deadline - now))) { [self] in timerFired() }
    }
}

/// Counters of the box shell (the engine keeps its own).
struct NodeCounters {
    var markWrites: UInt64 = 0
    var outboxDroppedMessages: UInt64 = 0
    var keysDeliveredAsSource: UInt64 = 0
    var keysDeliveredAsDestination: UInt64 = 0
    var keyBytesDelivered: UInt64 = 0
    var requestsAccepted: UInt64 = 0
    var requestsCompleted: UInt64 = 0
    var requestsFailed: UInt64 = 0
    var requestsTimedOut: UInt64 = 0
    var requestsRefused: UInt64 = 0
    var keysFetched: UInt64 = 0
    var keysUnknown: UInt64 = 0
    var controlFramesBad: UInt64 = 0
    var controlConnections: UInt64 = 0
    var positionSkips: UInt64 = 0
    var positionSkippedUnits: UInt64 = 0
    var stallSkips: UInt64 = 0
    /// Units consumed for keys per link, as written to the audit log (management statistics).
    var unitsConsumedForKeys: [LinkID: UInt64] = [:]
}
