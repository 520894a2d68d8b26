import AKRPEngine

/// The synchronous contend-and-relay baselines (rules in `docs/SIMULATOR.md`), on the same scenario,
/// key schedules, message delays and node processing model as ``EngineNetworkRun``.
///
/// - `hop-by-hop`: the source one-time-pads the key onto hop 0; each node puts the relay packet into
///   the FIFO of its outgoing link, which serves its head as soon as the link has enough key (strict
///   FIFO, shared by both directions), at most ``Scenario/fifoBound`` packets: a packet arriving at a
///   full FIFO is dropped and the key it already consumed upstream is wasted.
/// - `rsvp`: a LOCK travels hop by hop; each node locks the units of its outgoing link from the
///   delivered key, holding earlier locks. On success at the destination the key is relayed back over
///   the locked units (consuming them). On failure a RELEASE returns to the source freeing the locks,
///   and the source retries after exponential backoff with jitter, up to ``Scenario/rsvpAttempts``.
public final class BaselineNetworkRun: NetworkRun {
    enum Message {
        case relay(request: Int, hop: Int)
        case lock(request: Int, hop: Int)
        case back(request: Int, hop: Int)
        case release(request: Int, hop: Int)
    }

    enum Event {
        case arrive(Message, node: Int)
        case process(Message)
        case keyBlock(link: Int, units: Int)
        case request(Int)
        case retry(Int)
        /// The application asks again for request `k` after a failure (`Scenario.applicationRetry`).
        case applicationRetry(Int)
        case sample
    }

    /// The baseline protocol run (hop-by-hop or rsvp).
    public let kind: ProtocolKind
    /// The routing policy.
    public let routing: RoutingPolicy
    let scenario: Scenario
    let topology: Topology
    let router: Router
    var queue = EventQueue<Event>()
    var schedules: [LinkKeySchedule] = []
    /// Free delivered units per link (not consumed, not locked).
    var level: [Int]
    var locked: [Int]
    /// Next unit index consumed per link (baselines consume in index order).
    var cursor: [UInt64]
    var fifo: [[(request: Int, hop: Int)]]
    var fifoHead: [Int]
    var busyUntil: [Nanoseconds]
    /// Per request: path as node indices and link indices.
    var pathNodes: [[Int]]
    var pathLinks: [[Int]]
    var attempts: [Int]
    var rng: SplitMix64
    let outcomes: Outcomes
    var counters = RunCounters()
    /// Which messages share a frame (for the authentication accounting).
    var frames: FrameGrouping
    var now: Nanoseconds = 0
    let end: Nanoseconds
    let sampleInterval: Nanoseconds = 100_000_000
    var lastSample: Nanoseconds = 0
    let keys: LinkKeyStreams
    var links: [LinkID]

    /// Prepares a baseline run of `scenario`: key schedules, arrivals and sampling queued. `kind` must be a baseline (not an engine protocol).
    public init(scenario: Scenario, kind: ProtocolKind, routing: RoutingPolicy) {
        precondition(!kind.isEngine, "BaselineNetworkRun runs the baselines only")
        self.kind = kind
        self.routing = routing
        frames = FrameGrouping(links: scenario.network.links.count)
        self.scenario = scenario
        topology = scenario.network.engineTopology(unitBits: scenario.unitBits)
        router = Router(topology: topology)
        let m = scenario.network.links.count
        level = Array(repeating: 0, count: m)
        locked = Array(repeating: 0, count: m)
        cursor = Array(repeating: 0, count: m)
        fifo = Array(repeating: [], count: m)
        fifoHead = Array(repeating: 0, count: m)
        busyUntil = Array(repeating: 0, count: scenario.network.nodeCount)
        let count = scenario.arrivals.count
        pathNodes = Array(repeating: [], count: count)
        pathLinks = Array(repeating: [], count: count)
        attempts = Array(repeating: 0, count: count)
        rng = SplitMix64(seed: scenario.seed ^ 0xBAC0_FF)
        outcomes = Outcomes(count: count, detailed: scenario.recordTrace)
        end = scenario.duration + scenario.drain
        links = scenario.network.links.map { LinkID(scenario.network.id($0.a), scenario.network.id($0.b)) }
        keys = LinkKeyStreams(seed: scenario.seed &* 31 &+ 7, links: links, unitSize: scenario.unitBits / 8)
        for l in 0..<m {
            schedules.append(
                LinkKeySchedule(
                    seed: scenario.seed, link: l, rate: scenario.network.links[l].rate, unitBits: scenario.unitBits,
                    mode: scenario.mode(of: l)))
        }
    }

    /// Runs to the end of the drain and returns the metrics and (if recorded) the trace lines.
    public func run(workload: String, progress: ((Double) -> Void)? = nil) -> (ProtocolResult, [String]) {
        for l in schedules.indices {
            let b = schedules[l].next()
            queue.push(b.time, .keyBlock(link: l, units: b.units))
        }
        if !scenario.arrivals.isEmpty { queue.push(scenario.arrivals[0].time, .request(0)) }
        queue.push(sampleInterval, .sample)
        return finish(workload: workload, steps: runEvents(progress: progress))
    }

    private func units(_ k: Int) -> Int { scenario.units(bits: scenario.arrivals[k].bits) }

    private func setLevel(_ l: Int, _ v: Int) {
        level[l] = v
        router.update(link: l, level: Double(v), rate: 0)
    }

    func step(_ ev: Event) {
        switch ev {
        case .arrive(let m, let node):
            let start = max(now, busyUntil[node])
            busyUntil[node] = start + scenario.processing
            queue.push(start + scenario.processing, .process(m))
        case .process(let m):
            process(m)
        case .keyBlock(let l, let u):
            counters.keyGeneratedUnits += UInt64(u)
            setLevel(l, level[l] + u)
            counters.peakPool = max(counters.peakPool, min(level[l], scenario.capacity(of: l)))
            if kind == .hopByHop { serve(l) }
            let b = schedules[l].next()
            if b.time <= end { queue.push(max(b.time, now), .keyBlock(link: l, units: b.units)) }
        case .request(let k):
            if k + 1 < scenario.arrivals.count { queue.push(scenario.arrivals[k + 1].time, .request(k + 1)) }
            start(k)
        case .applicationRetry(let k):
            outcomes.attemptStart[k] = now
            start(k)
        case .retry(let k):
            guard choosePath(k) else {
                ended(k, .failed)
                return
            }
            lock(k, hop: 0)
        case .sample:
            var held = 0
            for l in locked.indices { held += locked[l] }
            counters.reservedUnitNanoseconds += Double(held) * Double(now - lastSample)
            lastSample = now
            queue.push(now + sampleInterval, .sample)
        }
    }

    /// Starts an attempt of request `k`: its path, then the first relay (hop-by-hop) or lock (rsvp).
    private func start(_ k: Int) {
        guard choosePath(k) else {
            ended(k, .failed)
            return
        }
        if kind == .hopByHop {
            enqueue(k, hop: 0)
        } else {
            attempts[k] = 1
            lock(k, hop: 0)
        }
    }

    /// Attempt `k` ended without a key (`outcome`: failed or dropped): the application retries (when on).
    private func ended(_ k: Int, _ outcome: RequestOutcome) {
        if !retryApplication(k, schedule: { queue.push($0, .applicationRetry(k)) }) { outcomes.outcome[k] = outcome }
    }

    private func choosePath(_ k: Int) -> Bool {
        let a = scenario.arrivals[k]
        var out = InlineArray<4, Path>(repeating: Path())
        let found = router.paths(
            from: scenario.network.id(Int(a.source)), to: scenario.network.id(Int(a.destination)), units: units(k),
            keyAware: routing == .keyAware, count: 1, into: &out)
        guard found > 0 else { return false }
        let p = out[0]
        pathNodes[k] = (0...p.hops).map { Int(p[$0].rawValue) - 1 }
        pathLinks[k] = (0..<p.hops).map { topology.index(of: LinkID(p[$0], p[$0 + 1]))! }
        if outcomes.detailed { outcomes.paths[k] = (0...p.hops).map { p[$0].rawValue } }
        return true
    }

    private func send(_ m: Message, over l: Int, to node: Int) {
        counters.messages += 1
        if frames.startsFrame(link: l, fromLow: node == scenario.network.links[l].b, now: now) { counters.frames += 1 }
        queue.push(now + scenario.network.links[l].delay, .arrive(m, node: node))
    }

    private func consume(_ k: Int, link l: Int) {
        let u = units(k)
        outcomes.consumed[k] += Int32(u)
        if outcomes.detailed {
            outcomes.ranges[k].append((Int32(l), cursor[l], UInt32(u)))
        }
        cursor[l] += UInt64(u)
    }

    private func finish(_ k: Int, keyLink l: Int, first: UInt64) {
        outcomes.outcome[k] = .delivered
        outcomes.sourceTime[k] = now
        outcomes.destinationTime[k] = now
        outcomes.floor[k] = floorLatency(links: pathLinks[k])
        if outcomes.detailed {
            // The relays are correct by construction; both ends hold the key of the key link's units.
            let u = units(k)
            var bytes = [UInt8](repeating: 0, count: u * scenario.unitBits / 8)
            bytes.withUnsafeMutableBytes { keys.fill(link: l, index: first, count: u, into: $0) }
            let d = bytes.withUnsafeBytes { keyDigest($0) }
            outcomes.sourceDigest[k] = d
            outcomes.destinationDigest[k] = d
        }
    }

    // MARK: hop-by-hop

    private func enqueue(_ k: Int, hop h: Int) {
        let l = pathLinks[k][h]
        let length = fifo[l].count - fifoHead[l]
        guard length < scenario.fifoBound else {
            ended(k, .dropped)
            return
        }
        fifo[l].append((k, h))
        counters.peakQueue = max(counters.peakQueue, length + 1)
        serve(l)
    }

    private func serve(_ l: Int) {
        while fifoHead[l] < fifo[l].count {
            let (k, h) = fifo[l][fifoHead[l]]
            let u = units(k)
            guard level[l] >= u else { break }
            setLevel(l, level[l] - u)
            consume(k, link: l)
            fifoHead[l] += 1
            send(.relay(request: k, hop: h), over: l, to: pathNodes[k][h + 1])
        }
        if fifoHead[l] > 1024 && fifoHead[l] * 2 > fifo[l].count {
            fifo[l].removeFirst(fifoHead[l])
            fifoHead[l] = 0
        }
    }

    // MARK: rsvp

    private func lock(_ k: Int, hop h: Int) {
        let l = pathLinks[k][h]
        let u = units(k)
        if level[l] >= u {
            setLevel(l, level[l] - u)
            locked[l] += u
            send(.lock(request: k, hop: h), over: l, to: pathNodes[k][h + 1])
        } else if h == 0 {
            backoff(k)
        } else {
            let back = pathLinks[k][h - 1]
            send(.release(request: k, hop: h - 1), over: back, to: pathNodes[k][h - 1])
        }
    }

    private func backoff(_ k: Int) {
        guard attempts[k] < scenario.rsvpAttempts else {
            ended(k, .failed)
            return
        }
        let wait = Double(scenario.rsvpBackoff) * Double(1 << (attempts[k] - 1)) * (0.5 + rng.unit())
        attempts[k] += 1
        queue.push(now + Nanoseconds(wait), .retry(k))
    }

    private func process(_ m: Message) {
        switch m {
        case .relay(let k, let h):
            if h + 1 == pathLinks[k].count {
                let first = outcomes.detailed ? (outcomes.ranges[k].first?.start ?? 0) : 0
                finish(k, keyLink: pathLinks[k][0], first: first)
            } else {
                enqueue(k, hop: h + 1)
            }
        case .lock(let k, let h):
            if h + 1 == pathLinks[k].count {
                // Destination reached with every hop locked: relay the key back over the locks.
                relayBack(k, hop: h)
            } else {
                lock(k, hop: h + 1)
            }
        case .back(let k, let h):
            if h == 0 {
                let first = outcomes.detailed ? (outcomes.ranges[k].first?.start ?? 0) : 0
                finish(k, keyLink: pathLinks[k].last!, first: first)
            } else {
                relayBack(k, hop: h - 1)
            }
        case .release(let k, let h):
            let l = pathLinks[k][h]
            let u = units(k)
            locked[l] -= u
            setLevel(l, level[l] + u)
            if h == 0 { backoff(k) } else {
                send(.release(request: k, hop: h - 1), over: pathLinks[k][h - 1], to: pathNodes[k][h - 1])
            }
        }
    }

    private func relayBack(_ k: Int, hop h: Int) {
        let l = pathLinks[k][h]
        locked[l] -= units(k)
        consume(k, link: l)
        send(.back(request: k, hop: h), over: l, to: pathNodes[k][h])
    }
}
