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
        if peer.greetedIncarnation != 0 && g.incarnation != peer.greetedIncarnation {
            peer.counters.restartsSeen += 1
            logger.notice(
                "neighbour restarted",
                metadata: ["neighbour": "\(g.sender.rawValue)", "incarnation": "\(peer.greetedIncarnation) → \(g.incarnation)"])
        }
        peer.greetedIncarnation = g.incarnation
        peer.backoff = 0
        peer.consecutiveBadFrames = 0
        peer.windowMoves = 0
        peer.staleFrames = 0
        let now = clock.now()
        if let pool = engine.pool(toward: g.sender), g.head > pool.head {
            // A neighbour's head can be ahead of ours by what its device produced that our idle (full)
            // pool did not take, plus its high-water step after a restart — not more.
            let produced = feeds[g.sender]?.producedEstimate(now: clock.now(), tail: pool.tail) ?? pool.tail
            let limit = max(pool.head, produced) &+ UInt64(2 * configuration.engine.poolCapacity) &+ configuration.highWaterStep
            let target = min(g.head, limit)
            if target < g.head {
                logger.warning(
                    "neighbour's pool is further ahead than a restart explains; skipping the most allowed",
                    metadata: ["neighbour": "\(g.sender.rawValue)", "their-head": "\(g.head)", "our-head": "\(pool.head)"])
            }
            let distance = target - pool.head
            let burned = pool.skip(to: target)
            counters.greetingSkips += 1
            counters.greetingSkippedUnits += distance
            audit.discarded(link: LinkID(configuration.node, g.sender), count: burned, now: now)
            feeds[g.sender]?.positionMoved()
        }
        // The skip may move the tail: the mark must cover it before anything else leaves.
        guard secureMarks(now: now) else { return false }
        audit.flush(now: now)
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

    // MARK: - Frames in

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
            if let pool = engine.pool(toward: neighbour), pool.started, !pool.ownsUnit(index), index >= pool.tail {
                if pool.inWindow(index) { return .waitForKey }
                if moveWindowForHandshake(peer, pool: pool, unit: index) { return .waitForKey }
            }
            peer.counters.framesUnverifiable += 1
            if let pool = engine.pool(toward: neighbour), pool.started, index < pool.head {
                return noteStaleFrame(peer, unit: index, head: pool.head)
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
        peer.staleFrames = 0
        engine.consumeAuthenticationKey(from: neighbour, index: index)
        audit.authentication(link: LinkID(configuration.node, neighbour), sent: false, unit: index)
        peer.counters.authenticationUnitsReceived += 1
        peer.counters.framesReceived += 1
        let now = clock.now()
        let arrived = monotonicNanoseconds()
        defer { relayStepLatency.record(monotonicNanoseconds() &- arrived) }
        let length = Int(decoded.message.payloadLength)
        let payload = UnsafeRawBufferPointer(rebasing: payloadBuffer[0..<min(length, payloadBuffer.count)])
        engine.receive(decoded.message, payload: payload, now: now, outbox: outbox)
        if length > 0 { wipe(UnsafeMutableRawBufferPointer(rebasing: payloadBuffer[0..<min(length, payloadBuffer.count)])) }
        finishStep(now: now)
        return .done
    }

    /// After a restart of either end, the neighbour may key its frames with units past this end's window:
    /// during the handshake its answer carries its resume index, which this end's handshake skips to
    /// anyway; and when this end came up on a hello that announced an older resume index, the neighbour
    /// learnt of the restart from this end's resync and moved on without announcing it (a resync is not
    /// answered). Moving the window forward — by at most one more window plus the high-water step,
    /// burning what it passes, while the link is not up or at most twice per connection — lets the frame be
    /// verified once the device delivers that unit, instead of dropping every frame until the connection
    /// is given up. A forged frame can burn no more than that; it can never make a unit be used twice.
    static let windowMovesPerConnection = 2

    private func moveWindowForHandshake(_ peer: Peer, pool: KeyPool, unit: UnitIndex) -> Bool {
        let neighbour = peer.neighbour
        guard !engine.isLinkUp(toward: neighbour) || peer.windowMoves < Self.windowMovesPerConnection else { return false }
        let capacity = UInt64(pool.capacity)
        guard unit < pool.windowEnd &+ capacity &+ configuration.highWaterStep else { return false }
        let target = unit - capacity / 2
        guard target > pool.head else { return false }
        let now = clock.now()
        let burned = pool.skip(to: target)
        counters.handshakeSkips += 1
        peer.windowMoves += 1
        audit.discarded(link: LinkID(configuration.node, neighbour), count: burned, now: now)
        feeds[neighbour]?.positionMoved()
        guard secureMarks(now: now) else { return false }
        audit.flush(now: now)
        // Not now: this runs inside frame handling, which a delivery may re-enter.
        loop.execute { [self] in pollSources() }
        return true
    }

    /// Frames keyed below this end's pool head in a row before the connection is closed to resynchronise.
    static let staleFrameLimit = 4

    /// A frame keyed by a unit this end has already passed: after a restart the neighbour may not know how
    /// far this end moved on (a raised resume index is not announced by the protocol). A new connection
    /// exchanges the pool heads in its greetings and moves the neighbour forward, so after a few such
    /// frames the connection is closed and redialled instead of dropping frames until the bad-frame limit.
    private func noteStaleFrame(_ peer: Peer, unit: UnitIndex, head: UnitIndex) -> FrameOutcome {
        peer.staleFrames += 1
        peer.consecutiveBadFrames += 1
        guard peer.staleFrames >= Self.staleFrameLimit else { return .done }
        peer.counters.staleReconnects += 1
        logger.notice(
            "neighbour keys frames with units this end has passed; reconnecting to exchange positions",
            metadata: ["neighbour": "\(peer.neighbour.rawValue)", "unit": "\(unit)", "head": "\(head)"])
        peer.handler?.close()
        return .closed
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

    /// Keys and sends what waits for `peer`, in order, as long as this end has authentication key.
    func transmit(_ peer: Peer, now: Nanoseconds) {
        guard peer.isReady, let channel = peer.channel else { return }
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
        if buffer.readableBytes > 0 {
            // Authentication units taken above are in the audit buffer: written before the frames leave.
            audit.flush(now: now)
            channel.writeAndFlush(buffer, promise: nil)
        }
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
