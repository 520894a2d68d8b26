import AKRPConfig
import AKRPDevice
import AKRPEngine
import AKRPKeySource
import Foundation

extension RelayNode {
    /// Creates every link's key source and positions its pool: at the link's durable mark or the source's
    /// current position, whichever is later — so that no unit an earlier incarnation may have used is
    /// ever delivered again (restart safety, docs/OPERATIONS.md). The new marks are made durable before
    /// the engine starts.
    func makeFeeds(now: Nanoseconds) throws(NodeStartError) {
        var updates: [(NodeID, UnitIndex)] = []
        for n in configuration.neighbours {
            let link = LinkID(configuration.node, n.node)
            let unitSize = configuration.engine.unitSize
            let source: any KeySource
            let description: String
            var current: UnitIndex = 0
            switch n.source {
            case .simulated(let seed, let epoch, let bitsPerSecond, let blockPeriod, let jitter):
                let pair: SimulatedDevicePair
                do throws(SimulatedDevicePair.ConfigurationError) {
                    // The simulated device keeps every unit it produced until the box takes it: a pool that
                    // stays full never makes one end lose key that the other end still takes (a finite
                    // device buffer would overflow at different moments at the two ends).
                    pair = try SimulatedDevicePair(
                        link: link, seed: seed, unitSize: unitSize, bitsPerSecond: bitsPerSecond, start: epoch,
                        deviceBufferUnits: 1 << 62, blockPeriod: blockPeriod, jitter: jitter)
                } catch { throw .keySource(neighbour: n.node, reason: "simulated device: \(error)") }
                source = pair.end(at: configuration.node)
                // Begin with the oldest unit the device still holds (it keeps everything): the neighbour's
                // pool is there or further on, and the greetings move the end that is behind forward.
                current = 0
                description = "simulated seed \(seed), \(bitsPerSecond) bit/s"
                    + (blockPeriod > 0 ? ", blocks every \(Double(blockPeriod) / 1e6) ms" : "")
            case .trace(let path):
                let bytes: Data
                do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                    throw .keySource(neighbour: n.node, reason: "cannot read trace \(path): \(error.localizedDescription)")
                }
                let trace: KeyTrace
                do throws(KeyTraceError) {
                    trace = try withBytes([UInt8](bytes)) { raw throws(KeyTraceError) in try KeyTrace(parsing: raw) }
                } catch { throw .keySource(neighbour: n.node, reason: "trace \(path): \(error)") }
                do throws(TraceReplaySource.ConfigurationError) {
                    source = try TraceReplaySource(trace: trace, link: link, unitSize: unitSize, start: now)
                } catch { throw .keySource(neighbour: n.node, reason: "trace \(path): \(error)") }
                description = "trace \(path)"
            case .usb(let serial):
                guard let context = usbContext else { throw .keySource(neighbour: n.node, reason: "USB not initialised") }
                let usb: USBKeySource
                do throws(DeviceError) {
                    usb = try USBKeySource(serial: serial, context: context) { [weak self] in
                        guard let self else { return }
                        self.loop.execute { self.sourceSignalled(n.node) }
                    }
                } catch { throw .keySource(neighbour: n.node, reason: "USB device \(serial): \(error)") }
                guard usb.link == link else {
                    throw .keySource(
                        neighbour: n.node,
                        reason: "USB device \(serial) serves link \(usb.link), not \(link) (reconfigure it with akrpctl device flash)")
                }
                guard usb.unitSize == unitSize else {
                    throw .keySource(neighbour: n.node, reason: "USB device \(serial) delivers \(usb.unitSize)-byte units; the engine uses \(unitSize)")
                }
                source = usb
                description = "usb \(serial)"
            }
            let position = max(state.mark(n.node), current)
            logger.info(
                "link positioned",
                metadata: ["neighbour": "\(n.node.rawValue)", "mark": "\(state.mark(n.node))", "source": "\(current)",
                           "position": "\(position)"])
            engine.pool(toward: n.node)?.skip(to: position)
            updates.append((n.node, position &+ configuration.highWaterStep))
            let sink = EnginePoolSink(engine: engine, peer: n.node, outbox: outbox, now: now)
            let feed = LinkFeed(neighbour: n.node, description: description, source: source, sink: sink)
            feed.nextPoll = now
            feeds[n.node] = feed
        }
        do throws(StateStoreError) { try state.raise(updates) } catch { throw .state(error) }
    }

    /// A USB source staged units (called on the loop).
    func sourceSignalled(_ neighbour: NodeID) {
        feeds[neighbour]?.signalled = true
        pollSources()
    }

    /// Polls every source that is due; what the deliveries complete is sent, and frames or messages that
    /// waited for key on a link are retried.
    func pollSources() {
        guard !stopped else { return }
        let now = clock.now()
        for feed in feeds.values {
            feed.healthTick(now: now, logger: logger)  // device health: rate samples, events, status reads
            guard feed.signalled || (feed.nextPoll.map { $0 <= now } ?? false) else { continue }
            let before = feed.state
            let delivered = feed.poll(now: now)
            if feed.state != before {
                logger.info(
                    "key source \(feed.state)",
                    metadata: ["neighbour": "\(feed.neighbour.rawValue)", "source": "\(feed.description)",
                               "error": "\(feed.lastError ?? "-")"])
            }
            finishStep(now: now)
            if delivered > 0, let peer = peers[feed.neighbour] {
                if !peer.incoming.isEmpty { retryIncoming(peer) }
                if !peer.outgoing.isEmpty { releasePending = true }
            }
        }
        release(now: now)
        armTimer(now: now)
    }
}
