import AKRPEngine
import AKRPWire
import NIOCore

/// Keeping the two ends of a link on the same units: following the neighbour's position (greetings and
/// position records), and unsticking a link whose full pool holds nothing usable.
extension RelayNode {
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
        // The neighbour's pool has moved past this end's hash key: if the neighbour has not seen a frame
        // under it yet, it can never look it up (its units below its head are gone). Take a new one with
        // the next frame (docs/WIRE.md §4.6; at most one hash key per position record).
        if let hashKey = peer.sealer.hashKeyIndex, m.position > hashKey {
            peer.sealer.reset()
            peer.counters.hashKeyRenewals += 1
        }
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
}
