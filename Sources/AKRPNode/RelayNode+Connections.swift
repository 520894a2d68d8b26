import AKRPEngine
import AKRPWire
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Neighbour connections: dialling with backoff, greetings, disconnections.
extension RelayNode {
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
        // Frame keys belong to one connection: both ends start the new one with a new hash key and pads.
        peer.sealer.reset()
        peer.verifier.reset()
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
}

private func isIPLiteral(_ host: String) -> Bool {
    host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
}

private func isLoopback(_ host: String) -> Bool { host == "::1" || host.hasPrefix("127.") || host == "localhost" }
