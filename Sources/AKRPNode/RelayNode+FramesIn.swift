import AKRPEngine
import AKRPWire
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Frames from neighbours: verified with the key unit they name, given to the engine, or kept until the
/// device delivers that unit.
extension RelayNode {
    /// Frames one neighbour may send without being verified in a row before the connection is closed.
    static let badFrameLimit = 64


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
        let link = LinkID(configuration.node, neighbour)
        let outcome = peer.verifier.open(frame, header: header, engine: engine, from: neighbour, payloadInto: payloadBuffer) {
            unit in
            audit.authentication(link: link, sent: false, unit: unit)
            peer.counters.authenticationUnitsReceived += 1
        }
        switch outcome {
        case .accepted(let decoded):
            peer.consecutiveBadFrames = 0
            peer.counters.framesReceived += 1
            deliver(decoded, from: peer)
        case .acceptedBundle:
            do throws(WireError) {
                // Every inner frame is checked before any reaches the engine.
                try MessageBundle.decode(frame, header: header, maximumFrameSize: maximumFrameSize, payloadInto: payloadBuffer) {
                    decoded in
                    deliver(decoded, from: peer)
                }
            } catch {
                // Authentic but malformed: its key units were consumed, so they are never used again.
                peer.counters.framesMalformed += 1
                return noteBadFrame(peer, "authentic bundle with a malformed message: \(error)")
            }
            peer.consecutiveBadFrames = 0
            peer.counters.framesReceived += 1
        case .unknownUnit(let index):
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
        case .refused(let error):
            if case .authenticationFailed = error {
                peer.counters.framesForged += 1
                return noteBadFrame(peer, "frame failed verification")
            }
            peer.counters.framesUnverifiable += 1
            return noteBadFrame(peer, "frame refused: \(error)")
        case .malformed(let error):
            // Authentic but malformed: its key units were consumed, so they are never used again.
            peer.counters.framesMalformed += 1
            return noteBadFrame(peer, "authentic frame with a malformed body: \(error)")
        }
        return .done
    }

    /// One authentic message from `peer` into the engine, numbered by this end (see `Peer.engineSequence`).
    private func deliver(_ decoded: DecodedMessage, from peer: Peer) {
        var message = decoded.message
        peer.engineSequence &+= 1
        message.sequence = peer.engineSequence
        peer.counters.messagesReceived += 1
        let length = Int(message.payloadLength)
        let payload = UnsafeRawBufferPointer(rebasing: payloadBuffer[0..<min(length, payloadBuffer.count)])
        let now = clock.now()
        engine.receive(message, payload: payload, now: now, outbox: outbox)
        if length > 0 { wipe(UnsafeMutableRawBufferPointer(rebasing: payloadBuffer[0..<min(length, payloadBuffer.count)])) }
        // Each message's output leaves the outbox before the next one runs; released with the rest of this
        // read (``readComplete``), or by the caller.
        absorb(now: now)
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
}

/// A monotonic clock for measuring durations (the engine's time is wall-clock time).
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
