public import AKRPEngine

/// A network of real engines whose message deliveries, key deliveries and time are driven by hand:
/// for unit tests, scenario tests and exhaustive exploration of interleavings. Messages travel in
/// per-directed-link FIFO order (the transport is TCP); `pendingChoices` lists what may happen next.
public final class ManualNetwork {
    /// A message in flight with its payload (relay shares).
    public struct Flight: Sendable {
        /// The message.
        public var message: Message
        /// Its payload bytes (empty for kinds without one).
        public var payload: [UInt8]
    }

    /// The network's topology.
    public let topology: Topology
    /// Every engine's configuration.
    public let configuration: EngineConfiguration
    /// The engines, in the topology's node order.
    public private(set) var engines: [Engine]
    /// The outbox every engine writes into (drained after each input).
    public let outbox: Outbox
    /// Checks every event against the invariants, invariant 1 also from the key streams' bytes.
    public let checker: InvariantChecker
    /// In-flight messages per directed link, keyed "from>to"; each queue is FIFO.
    public private(set) var queues: [[Flight]]
    private var queueKeys: [(from: NodeID, to: NodeID)] = []
    /// Simulated time, ns (advanced by hand).
    public private(set) var now: UInt64 = 0
    /// The links' device key streams (both ends of a link the same).
    public let keys: LinkKeyStreams
    /// Next unit index each link end's device hands over, keyed by link index and end (0 low, 1 high).
    public private(set) var deviceNext: [[UInt64]]
    /// Keys delivered, by request: (source bytes, destination bytes).
    public private(set) var sourceKeys: [RequestID: [UInt8]] = [:]
    /// Keys delivered at their destinations, by request.
    public private(set) var destinationKeys: [RequestID: [UInt8]] = [:]
    /// Requests that failed at their source, with the reason.
    public private(set) var failures: [RequestID: FailReason] = [:]
    /// Every engine event, in order, with the node that emitted it.
    public private(set) var events: [(node: NodeID, event: EngineEvent)] = []

    /// Creates one engine per node (incarnation 1) and starts the link handshakes.
    /// - Parameter checkingKeyBytes: the checker also checks every delivered key against the streams'
    ///   bytes (``InvariantChecker/init(keyStreams:)``); false checks the engines' reports only.
    public init(
        topology: Topology, configuration: EngineConfiguration, keySeed: UInt64 = 42, checkingKeyBytes: Bool = true
    ) throws(ConfigurationError) {
        self.topology = topology
        self.configuration = configuration
        var e: [Engine] = []
        for n in topology.nodes {
            e.append(try Engine(node: n, topology: topology, configuration: configuration, incarnation: 1))
        }
        engines = e
        outbox = Outbox(for: configuration)
        keys = LinkKeyStreams(seed: keySeed, links: topology.links.map(\.id), unitSize: configuration.unitSize)
        checker = checkingKeyBytes ? InvariantChecker(keyStreams: keys) : InvariantChecker()
        deviceNext = Array(repeating: [0, 0], count: topology.links.count)
        queues = []
        for l in topology.links {
            queueKeys.append((l.id.low, l.id.high))
            queueKeys.append((l.id.high, l.id.low))
            queues.append([])
            queues.append([])
        }
        for i in 0..<engines.count {
            outbox.clear()
            engines[i].start(now: now, outbox: outbox)
            collect(i)
        }
    }

    /// The engine of node `n` (a node of the topology).
    public func engine(_ n: NodeID) -> Engine { engines[topology.index(of: n)!] }

    private func queueIndex(_ from: NodeID, _ to: NodeID) -> Int? {
        guard let l = topology.index(of: LinkID(from, to)) else { return nil }
        return l * 2 + (from < to ? 0 : 1)
    }

    private func collect(_ i: Int) {
        let node = topology.nodes[i]
        checker.observe(outbox: outbox, node: node, time: now)
        var k = 0
        while k < outbox.eventCount {
            let e = outbox.event(k)
            events.append((node, e))
            if e.kind == .keyDelivered {
                let bytes = Array(outbox.keyBytes(of: e))
                if e.role == .source { sourceKeys[e.request] = bytes } else { destinationKeys[e.request] = bytes }
            } else if e.kind == .requestFailed {
                failures[e.request] = e.reason
            }
            k += 1
        }
        k = 0
        while k < outbox.messageCount {
            let m = outbox.message(k)
            if let q = queueIndex(m.from, m.to) {
                queues[q].append(Flight(message: m, payload: Array(outbox.payload(k))))
            }
            k += 1
        }
        outbox.clear()
    }

    /// Indices of directed links with a message waiting.
    public var busyQueues: [Int] { queues.indices.filter { !queues[$0].isEmpty } }
    /// Messages in flight on all links.
    public var inFlightCount: Int { queues.reduce(0) { $0 + $1.count } }

    /// Delivers the oldest message of directed link queue `q`.
    public func deliver(queue q: Int) {
        guard !queues[q].isEmpty else { return }
        let f = queues[q].removeFirst()
        guard let i = topology.index(of: f.message.to) else { return }
        outbox.clear()
        f.payload.withUnsafeBytes { engines[i].receive(f.message, payload: $0, now: now, outbox: outbox) }
        collect(i)
    }

    /// Removes the oldest message of queue `q` without delivering it (a loss).
    public func drop(queue q: Int) {
        guard !queues[q].isEmpty else { return }
        queues[q].removeFirst()
    }

    /// Injects a message as if it arrived from the network (for bad-input tests).
    public func inject(_ m: Message, payload: [UInt8] = []) {
        guard let i = topology.index(of: m.to) else { return }
        outbox.clear()
        payload.withUnsafeBytes { engines[i].receive(m, payload: $0, now: now, outbox: outbox) }
        collect(i)
    }

    /// Delivers every message, oldest queue first, until none is left or `limit` deliveries were made.
    @discardableResult
    public func run(limit: Int = 100_000) -> Int {
        var n = 0
        while n < limit, let q = busyQueues.first {
            deliver(queue: q)
            n += 1
        }
        return n
    }

    /// Hands `count` more key units of link `link` to one end (`0` low, `1` high) or both (`nil`).
    public func supplyKey(link: LinkID, count: Int, end: Int? = nil) {
        guard let l = topology.index(of: link) else { return }
        for e in (end.map { [$0] } ?? [0, 1]) {
            let node = e == 0 ? link.low : link.high
            let peer = e == 0 ? link.high : link.low
            let i = topology.index(of: node)!
            var bytes = [UInt8](repeating: 0, count: count * configuration.unitSize)
            outbox.clear()
            var attempt = 0
            while attempt < 2 {
                attempt += 1
                bytes.withUnsafeMutableBytes { keys.fill(link: l, index: deviceNext[l][e], count: count, into: $0) }
                let outcome = bytes.withUnsafeBytes { b -> KeyPoolError? in
                    do throws(KeyPoolError) {
                        try engines[i].deliverKey(from: peer, index: deviceNext[l][e], bytes: b, now: now, outbox: outbox)
                        return nil
                    } catch { return error }
                }
                guard let error = outcome else {
                    deviceNext[l][e] += UInt64(count)
                    break
                }
                // After a resync the pool expects a later index: the device resumes there (resync-from-index).
                guard case .outOfOrder(let expected, _) = error, expected > deviceNext[l][e] else { break }
                deviceNext[l][e] = expected
            }
            collect(i)
        }
    }

    /// Runs `body` against the engine of `node` (e.g. a key source delivering into its pool) and routes
    /// what it produced into the network.
    public func perform(at node: NodeID, _ body: (Engine, Outbox) -> Void) {
        let i = topology.index(of: node)!
        outbox.clear()
        body(engines[i], outbox)
        collect(i)
    }

    /// Asks `source` for a key to `destination` (`awaitingConfirmation`: a client waits for the
    /// destination's confirmation, ``Engine/request(destination:units:now:outbox:awaitingConfirmation:)``).
    public func request(
        from source: NodeID, to destination: NodeID, units: Int, awaitingConfirmation: Bool = false
    ) throws(RequestError) -> RequestID {
        let i = topology.index(of: source)!
        outbox.clear()
        defer { collect(i) }
        return try engines[i].request(
            destination: destination, units: units, now: now, outbox: outbox, awaitingConfirmation: awaitingConfirmation)
    }

    /// Moves time forward, running every engine's timers.
    public func advance(by dt: UInt64) {
        now += dt
        for i in engines.indices {
            outbox.clear()
            engines[i].tick(now: now, outbox: outbox)
            collect(i)
        }
    }

    /// Replaces the engine of `node` by a fresh one (its memory is lost) with incarnation `incarnation`.
    public func restart(_ node: NodeID, incarnation: UInt64) throws(ConfigurationError) {
        let i = topology.index(of: node)!
        // Messages to the old incarnation still in flight stay in the queues: the new engine must refuse them.
        engines[i] = try Engine(node: node, topology: topology, configuration: configuration, incarnation: incarnation)
        // Shell duty (docs/PROTOCOL.md §11): pools start at the devices' next index.
        for (peer, li) in topology.neighbours(of: node) {
            engines[i].pool(toward: peer)?.skip(to: deviceNext[li][node < peer ? 0 : 1])
        }
        outbox.clear()
        engines[i].start(now: now, outbox: outbox)
        collect(i)
    }

    /// A digest of all engines and in-flight messages (for state-space exploration).
    public func stateDigest() -> Int {
        var h = Hasher()
        for e in engines { e.digest(into: &h) }
        for q in queues {
            h.combine(q.count)
            for f in q {
                h.combine(f.message.kind.rawValue)
                h.combine(f.message.sequence)
                h.combine(f.message.from)
            }
        }
        return h.finalize()
    }
}
