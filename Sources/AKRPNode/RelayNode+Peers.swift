import AKRPEngine
import AKRPWire
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

extension RelayNode {
    /// Frames one neighbour may send without being verified in a row before the connection is closed.
    static let badFrameLimit = 64

    // MARK: - Connections

    func configurePeerChannel(_ channel: any Channel, dialled neighbour: NodeID?) throws {
        // A silent partition (no FIN, no RST) must be noticed: keep-alive probes an idle connection, and
        // the user timeout closes one whose sent data stays unacknowledged (keep-alive does not probe then).
        let keepAlive = configuration.peers.keepAliveSeconds
        let options = channel.syncOptions
        try options?.setOption(.socketOption(.so_keepalive), value: 1)
        try options?.setOption(.socket(SocketOptionLevel(IPPROTO_TCP), SocketOptionName(TCP_KEEPIDLE)), value: SocketOptionValue(keepAlive))
        try options?.setOption(.socket(SocketOptionLevel(IPPROTO_TCP), SocketOptionName(TCP_KEEPINTVL)), value: SocketOptionValue(keepAlive))
        try options?.setOption(.socket(SocketOptionLevel(IPPROTO_TCP), SocketOptionName(TCP_KEEPCNT)), value: 3)
        try options?.setOption(
            .socket(SocketOptionLevel(IPPROTO_TCP), SocketOptionName(TCP_USER_TIMEOUT)), value: SocketOptionValue(3 * keepAlive * 1000))
        try options?.setOption(.socketOption(.tcp_nodelay), value: 1)
        let handler = PeerChannelHandler(node: self, neighbour: neighbour, maximumFrameSize: maximumFrameSize)
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// Dials a neighbour with a higher node ID; on failure redials with exponential backoff.
    func dial(_ peer: Peer) {
        guard !stopped, !shuttingDown, peer.dials, peer.channel == nil else { return }
        peer.reconnect = nil
        let neighbour = peer.neighbour
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.configurePeerChannel(channel, dialled: neighbour) }
            }
            .connect(host: peer.address.host, port: Int(peer.address.port))
            .whenFailure { [self] error in
                guard let peer = peers[neighbour] else { return }
                peer.counters.connectFailures += 1
                if peer.counters.connectFailures == 1 || peer.counters.connectFailures % 50 == 0 {
                    logger.info(
                        "cannot reach neighbour",
                        metadata: ["neighbour": "\(neighbour.rawValue)", "address": "\(peer.address)", "error": "\(error)",
                                   "attempts": "\(peer.counters.connectFailures)"])
                }
                scheduleRedial(peer)
            }
    }

    func scheduleRedial(_ peer: Peer) {
        guard !stopped, !shuttingDown, peer.dials, peer.reconnect == nil else { return }
        let p = configuration.peers
        peer.backoff = peer.backoff == 0 ? p.reconnectMinimum : min(p.reconnectMaximum, peer.backoff &* 2)
        let neighbour = peer.neighbour
        peer.reconnect = loop.scheduleTask(in: .nanoseconds(Int64(peer.backoff))) { [self] in
            if let peer = peers[neighbour] { dial(peer) }
        }
    }

    /// A dialled connection is up: greet (the acceptor greets back after reading ours).
    func peerChannelActive(_ handler: PeerChannelHandler) {
        guard let neighbour = handler.neighbour, let peer = peers[neighbour], let channel = handler.channel else { return }
        if let old = peer.handler, old !== handler { old.close() }
        peer.channel = channel
        peer.handler = handler
        peer.greeted = false
        peer.counters.connects += 1
        peer.connectedSince = clock.now()
        sendGreeting(peer, channel: channel)
    }

    private func sendGreeting(_ peer: Peer, channel: any Channel) {
        let head = engine.pool(toward: peer.neighbour)?.head ?? 0
        let g = PeerGreeting(sender: configuration.node, receiver: peer.neighbour, incarnation: engine.incarnation, head: head)
        channel.writeAndFlush(channel.allocator.buffer(bytes: g.encoded()), promise: nil)
    }

    /// The neighbour's greeting: identify an accepted connection, then skip this end's pool forward to
    /// the neighbour's head when that is ahead (see ``PeerGreeting``). Returns false to close.
    func peerGreeted(_ handler: PeerChannelHandler, _ g: PeerGreeting) -> Bool {
        guard !stopped, !shuttingDown else { return false }
        guard g.receiver == configuration.node, let peer = peers[g.sender] else {
            peerGreetingRefused(handler, reason: "greeting from node \(g.sender.rawValue) to node \(g.receiver.rawValue): not a neighbour of this box")
            return false
        }
        if let expected = handler.neighbour {
            guard expected == g.sender else {
                peerGreetingRefused(handler, reason: "dialled node \(expected.rawValue) but node \(g.sender.rawValue) answered")
                return false
            }
        } else {
            // Accepted: only the neighbour with the lower ID dials, and only from its configured host.
            guard g.sender < configuration.node else {
                peerGreetingRefused(handler, reason: "node \(g.sender.rawValue) dialled, but the lower node ID dials")
                return false
            }
            if let remote = handler.channel?.remoteAddress?.ipAddress, isIPLiteral(peer.address.host),
                remote != peer.address.host, !(isLoopback(remote) && isLoopback(peer.address.host))
            {
                peerGreetingRefused(handler, reason: "node \(g.sender.rawValue) connected from \(remote), configured \(peer.address.host)")
                return false
            }
            guard let channel = handler.channel else { return false }
            handler.neighbour = g.sender
            if let old = peer.handler, old !== handler {
                logger.info("neighbour reconnected; closing its previous connection", metadata: ["neighbour": "\(g.sender.rawValue)"])
                old.close()
                peer.dropQueues()
            }
            peer.channel = channel
            peer.handler = handler
            peer.counters.connects += 1
            peer.connectedSince = clock.now()
        }
        let restarted = peer.greetedIncarnation != 0 && g.incarnation != peer.greetedIncarnation
        if restarted {
            peer.counters.restartsSeen += 1
            logger.notice(
                "neighbour restarted",
                metadata: ["neighbour": "\(g.sender.rawValue)", "incarnation": "\(peer.greetedIncarnation) → \(g.incarnation)"])
        }
        peer.greetedIncarnation = g.incarnation
        peer.backoff = 0
        peer.consecutiveBadFrames = 0
        let now = clock.now()
        // A new connection: whatever either end announced of its window before may be stale.
        engine.forgetPeerWindow(toward: g.sender)
        guard follow(peer, head: g.head, now: now, reason: "greeting", restarted: restarted) else { return false }
        peer.greeted = true
        if !handler.dialled, let channel = handler.channel { sendGreeting(peer, channel: channel) }
        logger.info(
            "neighbour connected",
            metadata: ["neighbour": "\(g.sender.rawValue)", "incarnation": "\(g.incarnation)", "dialled": "\(handler.dialled)"])
        // Whatever the engine produced meanwhile was dropped (not connected); its timers resend hello.
        if !peer.outgoing.isEmpty { transmit(peer, now: now) }
        pollSources()
        return true
    }

    /// Moves this end's pool of the link to `peer` forward to the neighbour's announced head when that is
    /// ahead (a greeting or a position record, both unauthenticated): burning the *available* units in
    /// between — units bound to requests in flight stay, for heads also differ for a moment in normal
    /// operation, while a commit is on its way — or every unit when the neighbour `restarted` (a greeting
    /// with a new incarnation); never freeing or reusing one, and never further than the link can have
    /// produced (plus a restart's high-water step). When it moves, forgets the neighbour's announced window (the ends moved) and
    /// makes the marks durable before anything else leaves. Returns false only when the marks cannot be
    /// written.
    func follow(_ peer: Peer, head: UnitIndex, now: Nanoseconds, reason: String, restarted: Bool = false) -> Bool {
        let neighbour = peer.neighbour
        guard let pool = engine.pool(toward: neighbour), head > pool.head else { return true }
        engine.forgetPeerWindow(toward: neighbour)
        // A neighbour's head can be ahead of ours by what its device produced that our idle (full)
        // pool did not take, plus its high-water step after a restart — not more.
        let produced = feeds[neighbour]?.producedEstimate(now: now, tail: pool.tail) ?? pool.tail
        let limit = max(pool.head, produced) &+ UInt64(2 * configuration.engine.poolCapacity) &+ configuration.highWaterStep
        let target = min(head, limit)
        if target < head {
            logger.warning(
                "neighbour's pool is further ahead than its device can have produced; moving the most allowed",
                metadata: ["neighbour": "\(neighbour.rawValue)", "their-head": "\(head)", "our-head": "\(pool.head)"])
        }
        logger.info(
            "pool moved to the neighbour's head",
            metadata: ["neighbour": "\(neighbour.rawValue)", "from": "\(pool.head)", "to": "\(target)", "by": "\(reason)"])
        let distance = target - pool.head
        // After a restart of the neighbour every unit shared with its old incarnation is in doubt, held
        // ones included (their requests fail anyway): skip over everything.
        let burned = restarted ? pool.skip(to: target) : pool.discardAvailable(below: target)
        counters.positionSkips += 1
        counters.positionSkippedUnits += distance
        audit.discarded(link: LinkID(configuration.node, neighbour), count: burned, now: now)
        feeds[neighbour]?.positionMoved()
        // The skip may move the tail: the mark must cover it before anything else leaves.
        guard secureMarks(now: now) else { return false }
        audit.flush(now: now)
        return true
    }

    /// How often a connected end tells the neighbour where its pool stands (and at most how often it
    /// does so on request, when frames arrive keyed outside its window).
    static let positionInterval: Nanoseconds = 1_000_000_000
    static let positionRequestInterval: Nanoseconds = 100_000_000

    /// Sends this end's pool head of the link (a `peerPosition` record; no key is spent).
    func sendPosition(_ peer: Peer, now: Nanoseconds) {
        guard peer.isReady, let channel = peer.channel, let pool = engine.pool(toward: peer.neighbour) else { return }
        var m = ControlMessage(kind: .peerPosition, from: configuration.node, to: peer.neighbour)
        m.position = pool.head
        m.incarnation = engine.incarnation
        var bytes = [UInt8](repeating: 0, count: ControlCodec.frameLength(of: m))
        var result: Result<Int, WireError>?
        bytes.withUnsafeMutableBytes { out in
            result = Result { () throws(WireError) -> Int in
                try ControlCodec.encode(m, data: UnsafeRawBufferPointer(start: nil, count: 0), into: out)
            }
        }
        guard case .success = result else { return }
        peer.lastPositionSent = now
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }

    /// A neighbour's position record: follow it if it is ahead.
    func receivePosition(_ m: ControlMessage, from peer: Peer) -> FrameOutcome {
        guard m.from == peer.neighbour, m.to == configuration.node else {
            peer.counters.framesUnverifiable += 1
            return .done
        }
        peer.counters.positionsReceived += 1
        let now = clock.now()
        let restarted = peer.greetedIncarnation != 0 && m.incarnation != peer.greetedIncarnation
        guard follow(peer, head: m.position, now: now, reason: "position", restarted: restarted) else { return .closed }
        if !peer.outgoing.isEmpty { transmit(peer, now: now) }
        loop.execute { [self] in pollSources() }
        return .done
    }

    /// Sends the periodic position records.
    func sendPositions(now: Nanoseconds) {
        for peer in peers.values where peer.isReady && now &- peer.lastPositionSent >= Self.positionInterval {
            sendPosition(peer, now: now)
        }
    }

    func peerGreetingRefused(_ handler: PeerChannelHandler, reason: String) {
        if let n = handler.neighbour ?? nil, let peer = peers[n] { peer.counters.greetingsRefused += 1 }
        logger.warning("refused a neighbour connection", metadata: ["reason": "\(reason)"])
    }

    func peerChannelInactive(_ handler: PeerChannelHandler) {
        guard let neighbour = handler.neighbour, let peer = peers[neighbour], peer.handler === handler else { return }
        peer.channel = nil
        peer.handler = nil
        peer.greeted = false
        peer.counters.disconnects += 1
        peer.dropQueues()
        if !stopped && !shuttingDown {
            logger.info("neighbour disconnected", metadata: ["neighbour": "\(neighbour.rawValue)"])
            // Requests route around the link at once; the next handshake brings it back.
            let now = clock.now()
            engine.linkLost(toward: neighbour, now: now)
            finishStep(now: now)
        }
        scheduleRedial(peer)
    }

    func peerGarbage(_ handler: PeerChannelHandler, error: WireError) {
        guard let neighbour = handler.neighbour, let peer = peers[neighbour] else { return }
        peer.counters.garbageDisconnects += 1
        logger.warning(
            "neighbour sent bytes that are not frames; closing its connection",
            metadata: ["neighbour": "\(neighbour.rawValue)", "error": "\(error)"])
    }

    func peerError(_ handler: PeerChannelHandler, error: any Error) {
        logger.debug("neighbour connection error", metadata: ["neighbour": "\(handler.neighbour?.rawValue ?? 0)", "error": "\(error)"])
    }

    // MARK: - Stalled pools

    /// How long a link may sit with a full pool and (almost) nothing usable before it is unstuck.
    static let stallTimeout: Nanoseconds = 2_000_000_000

    /// Unsticks a link whose pool is full (the device cannot deliver) while nothing can move: either
    /// almost nothing in the window is usable — every unit consumed or discarded except a few at the head
    /// that neither end will use, for example an own unit the owner keeps for authenticating its next
    /// frame while it has nothing to send — or this end has messages for the neighbour and no own unit to
    /// key them with, its window pinned by units the neighbour has already discarded (after a restart the
    /// two ends can disagree on where the link stands). After two seconds this end skips its pool half a
    /// window forward (burning what it passes) and tells the neighbour, which follows.
    func checkStalledPools(now: Nanoseconds) {
        for peer in peers.values {
            guard peer.isReady, engine.isLinkUp(toward: peer.neighbour), let pool = engine.pool(toward: peer.neighbour),
                pool.started, pool.room == 0,
                (pool.heldUnits == 0 && pool.availableDelivered <= configuration.engine.authenticationReserve + 1)
                    || peer.outgoingCount > 0
            else {
                peer.stalledSince = nil
                continue
            }
            guard let since = peer.stalledSince else {
                peer.stalledSince = now
                continue
            }
            guard now &- since >= Self.stallTimeout else { continue }
            peer.stalledSince = nil
            let target = pool.head &+ UInt64(pool.capacity / 2)
            let burned = pool.discardAvailable(below: target)
            engine.forgetPeerWindow(toward: peer.neighbour)
            counters.stallSkips += 1
            audit.discarded(link: LinkID(configuration.node, peer.neighbour), count: burned, now: now)
            feeds[peer.neighbour]?.positionMoved()
            logger.notice(
                "link stalled with a full pool and no usable key; skipping forward",
                metadata: ["neighbour": "\(peer.neighbour.rawValue)", "head": "\(target)", "burned": "\(burned)"])
            guard secureMarks(now: now) else { return }
            audit.flush(now: now)
            sendPosition(peer, now: now)
            pollSources()
        }
    }

    // MARK: - Frames in

    /// The end of one read of a neighbour connection: release what its frames produced.
    func peerReadComplete(_ handler: PeerChannelHandler) {
        let started = handler.readStarted
        handler.readStarted = nil
        guard releasePending else { return }
        release(now: clock.now())
        if let started { relayStepLatency.record(monotonicNanoseconds() &- started) }
    }

    /// One frame from a neighbour: verified with the key unit it names, then given to the engine. A
    /// frame whose unit is not delivered here yet waits (in order) for the device.
    func peerFrame(_ handler: PeerChannelHandler, _ frame: UnsafeRawBufferPointer) {
        guard !stopped, let neighbour = handler.neighbour, let peer = peers[neighbour], peer.handler === handler else { return }
        peer.counters.bytesReceived += UInt64(frame.count)
        if !peer.incoming.isEmpty {
            guard peer.incoming.count < configuration.peers.pendingFrames else {
                peer.counters.framesDropped += 1
                return
            }
            peer.incoming.append(Array(frame))
            return
        }
        if case .waitForKey = receive(frame, from: peer) {
            peer.incoming.append(Array(frame))
        }
    }

    enum FrameOutcome { case done, waitForKey, closed }

    /// Verifies and delivers one frame.
    func receive(_ frame: UnsafeRawBufferPointer, from peer: Peer) -> FrameOutcome {
        let neighbour = peer.neighbour
        if let first = try? FrameHeader.parse(frame, maximumFrameSize: maximumFrameSize), case .control(let kind) = first.frameClass {
            guard kind == .peerPosition, let decoded = try? ControlCodec.decode(frame, maximumFrameSize: maximumFrameSize) else {
                peer.counters.framesMalformed += 1
                return noteBadFrame(peer, "control frame of kind \(kind) on a neighbour connection")
            }
            return receivePosition(decoded.message, from: peer)
        }
        let header: FrameHeader
        do throws(WireError) {
            header = try PoolKeyedFrames.header(of: frame, maximumFrameSize: maximumFrameSize)
        } catch {
            peer.counters.framesMalformed += 1
            return noteBadFrame(peer, "malformed frame header: \(error)")
        }
        guard header.sender == neighbour, header.receiver == configuration.node else {
            peer.counters.framesUnverifiable += 1
            return noteBadFrame(peer, "frame from node \(header.sender.rawValue) to \(header.receiver.rawValue) on this link")
        }
        let index = header.sequence
        guard engine.authenticationKey(from: neighbour, index: index, into: authenticationKey) else {
            if let pool = engine.pool(toward: neighbour), pool.started, !pool.ownsUnit(index), index >= pool.tail,
                pool.inWindow(index)
            {
                return .waitForKey
            }
            peer.counters.framesUnverifiable += 1
            if let pool = engine.pool(toward: neighbour), pool.started, !pool.inWindow(index) {
                return notePositionMismatch(peer, unit: index, head: pool.head, windowEnd: pool.windowEnd, now: clock.now())
            }
            return noteBadFrame(peer, "frame keyed by unit \(index), which this end cannot use")
        }
        defer { wipe(authenticationKey) }
        let decoded: DecodedMessage
        do throws(WireError) {
            decoded = try PoolKeyedFrames.open(frame, header: header, key: UnsafeRawBufferPointer(authenticationKey), payloadInto: payloadBuffer)
        } catch {
            if case .authenticationFailed = error {
                peer.counters.framesForged += 1
                return noteBadFrame(peer, "frame failed verification")
            }
            // Authentic but malformed: its key unit was used; consume it so it is never used again.
            engine.consumeAuthenticationKey(from: neighbour, index: index)
            audit.authentication(link: LinkID(configuration.node, neighbour), sent: false, unit: index)
            peer.counters.authenticationUnitsReceived += 1
            peer.counters.framesMalformed += 1
            return noteBadFrame(peer, "authentic frame with a malformed body: \(error)")
        }
        peer.consecutiveBadFrames = 0
        engine.consumeAuthenticationKey(from: neighbour, index: index)
        audit.authentication(link: LinkID(configuration.node, neighbour), sent: false, unit: index)
        peer.counters.authenticationUnitsReceived += 1
        peer.counters.framesReceived += 1
        let now = clock.now()
        let length = Int(decoded.message.payloadLength)
        let payload = UnsafeRawBufferPointer(rebasing: payloadBuffer[0..<min(length, payloadBuffer.count)])
        engine.receive(decoded.message, payload: payload, now: now, outbox: outbox)
        if length > 0 { wipe(UnsafeMutableRawBufferPointer(rebasing: payloadBuffer[0..<min(length, payloadBuffer.count)])) }
        // Released with the rest of this read (``readComplete``), or by the caller.
        absorb(now: now)
        return .done
    }

    /// A frame keyed by a unit outside this end's window: the two ends no longer name the same units.
    /// After a restart of either end one of them moved on — the restarted end starts at its high-water
    /// mark; the other discards what it shared with the old incarnation and, when it learns of the
    /// restart from a resync, resumes further on without announcing it (a resync is not answered); a
    /// device that lost key while one end's pool was full moves that end on. This end tells the neighbour
    /// where it stands at once (a position record; at most ten times a second), and the end that is
    /// behind skips forward. Positions only ever move forward, to where the other end already is.
    private func notePositionMismatch(_ peer: Peer, unit: UnitIndex, head: UnitIndex, windowEnd: UnitIndex, now: Nanoseconds) -> FrameOutcome {
        peer.consecutiveBadFrames += 1
        peer.counters.positionMismatches += 1
        if peer.counters.positionMismatches == 1 || peer.counters.positionMismatches % 64 == 0 {
            logger.notice(
                "neighbour keys frames with units outside this end's window; exchanging positions",
                metadata: ["neighbour": "\(peer.neighbour.rawValue)", "unit": "\(unit)", "head": "\(head)", "window-end": "\(windowEnd)"])
        }
        if now &- peer.lastPositionSent >= Self.positionRequestInterval { sendPosition(peer, now: now) }
        return .done
    }

    /// Counts a frame that was dropped; a neighbour that sends nothing but bad frames is disconnected.
    private func noteBadFrame(_ peer: Peer, _ reason: String) -> FrameOutcome {
        peer.consecutiveBadFrames += 1
        if peer.consecutiveBadFrames == 1 || peer.consecutiveBadFrames % 16 == 0 {
            logger.notice("dropped a frame", metadata: ["neighbour": "\(peer.neighbour.rawValue)", "reason": "\(reason)"])
        }
        if peer.consecutiveBadFrames >= Self.badFrameLimit {
            logger.warning(
                "too many bad frames in a row; closing the connection",
                metadata: ["neighbour": "\(peer.neighbour.rawValue)"])
            peer.handler?.close()
            return .closed
        }
        return .done
    }

    /// Retries frames that waited for key on the link to `neighbour`, oldest first, until one still waits.
    /// Handling a frame may close the connection (which empties the queue): checked after each one.
    func retryIncoming(_ peer: Peer) {
        while !stopped, peer.isReady, !peer.incoming.isEmpty {
            var frame = peer.incoming[0]
            let outcome = frame.withUnsafeBytes { receive($0, from: peer) }
            if case .waitForKey = outcome { break }
            wipeBytes(&frame)
            if !peer.incoming.isEmpty {
                wipeBytes(&peer.incoming[0])
                peer.incoming.removeFirst()
            }
            if case .closed = outcome { break }
        }
    }

    // MARK: - Frames out

    /// Queues one engine message for its neighbour; lost at once if the neighbour is not connected
    /// (the engine treats it as a lost message and its timers recover).
    func queue(message m: Message, payload: UnsafeRawBufferPointer) {
        guard let peer = peers[m.to] else { return }
        guard peer.isReady, peer.outgoingCount < configuration.peers.pendingMessages else {
            peer.counters.messagesDropped += 1
            return
        }
        peer.outgoing.append(Peer.Outgoing(message: m, payload: Array(payload)))
    }

    /// Seals what waits for every neighbour into one buffer per neighbour (the authentication units they
    /// spend go to the audit buffer); the caller writes the audit log, then the buffers.
    func sealAll() -> [(any Channel, ByteBuffer)] {
        var writes: [(any Channel, ByteBuffer)] = []
        for peer in peers.values where !peer.outgoing.isEmpty {
            if let (channel, buffer) = seal(peer) { writes.append((channel, buffer)) }
        }
        return writes
    }

    /// Keys and sends what waits for one neighbour (after its key arrived or its connection came up).
    func transmit(_ peer: Peer, now: Nanoseconds) {
        guard let (channel, buffer) = seal(peer) else { return }
        if audit.hasPending { audit.flush(now: now) }
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Seals what waits for `peer`, in order, as long as this end has authentication key; returns the
    /// frames to write (nil when none).
    private func seal(_ peer: Peer) -> ((any Channel), ByteBuffer)? {
        guard peer.isReady, let channel = peer.channel else { return nil }
        var buffer = channel.allocator.buffer(capacity: 0)
        let link = LinkID(configuration.node, peer.neighbour)
        while peer.outgoingStart < peer.outgoing.count {
            guard let unit = engine.takeAuthenticationKey(toward: peer.neighbour, into: authenticationKey) else { break }
            audit.authentication(link: link, sent: true, unit: unit)
            peer.counters.authenticationUnitsSent += 1
            var item = peer.outgoing[peer.outgoingStart]
            item.message.sequence = unit
            let length: Int
            do throws(WireError) {
                length = try withBytes(item.payload) { payload throws(WireError) in
                    try PoolKeyedFrames.seal(
                        item.message, payload: payload, key: UnsafeRawBufferPointer(authenticationKey), into: frameBuffer)
                }
            } catch {
                logger.error("cannot encode a frame (dropped)", metadata: ["kind": "\(item.message.kind)", "error": "\(error)"])
                peer.counters.messagesDropped += 1
                length = 0
            }
            wipe(authenticationKey)
            wipeBytes(&peer.outgoing[peer.outgoingStart].payload)
            peer.outgoingStart += 1
            guard length > 0 else { continue }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: frameBuffer[0..<length]))
            wipe(UnsafeMutableRawBufferPointer(rebasing: frameBuffer[0..<length]))
            peer.counters.framesSent += 1
            peer.counters.bytesSent += UInt64(length)
        }
        if peer.outgoingStart == peer.outgoing.count {
            peer.outgoing.removeAll(keepingCapacity: true)
            peer.outgoingStart = 0
        } else if peer.outgoingStart > 1024 {
            peer.outgoing.removeFirst(peer.outgoingStart)
            peer.outgoingStart = 0
        }
        return buffer.readableBytes > 0 ? (channel, buffer) : nil
    }
}

/// A monotonic clock for measuring durations (the engine's time is wall-clock time).
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

private func isIPLiteral(_ host: String) -> Bool {
    host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
}

private func isLoopback(_ host: String) -> Bool { host == "::1" || host.hasPrefix("127.") || host == "localhost" }

/// `Array.withUnsafeBytes` rethrows untyped errors; this keeps the body's typed error.
func withBytes<T, E: Error>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
    var result: Result<T, E>?
    bytes.withUnsafeBytes { raw in result = Result { () throws(E) -> T in try body(raw) } }
    return try result!.get()
}
