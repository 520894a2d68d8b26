public import AKRPEngine

/// A discrete-event run of the real AKRP engine on every node of a ``Scenario``: block-wise key
/// delivery from the link schedules, messages delayed by the link delay and served one at a time by
/// each node (``Scenario/processing`` each), requests from the scenario's arrivals. Nothing of the
/// protocol is re-implemented: the driver only moves messages, key and time.
public final class EngineNetworkRun: NetworkRun {
    enum Event {
        case arrive(Int)
        case process(Int)
        case keyBlock(link: Int, units: Int)
        case request(Int)
        /// The application asks again for request `k` after a failure (`Scenario.applicationRetry`).
        case retry(Int)
        case tick(Int)
        case sample
    }

    struct InFlight {
        var message: Message
        var payload: [UInt8]
        var target: Int
    }

    /// The AKRP protocol run (akrp, akrp-multipath or a no-CD&R ablation).
    public let kind: ProtocolKind
    /// The routing policy.
    public let routing: RoutingPolicy
    let scenario: Scenario
    let configuration: EngineConfiguration
    let topology: Topology
    var engines: [Engine] = []
    let outbox: Outbox
    var queue = EventQueue<Event>()
    var flights: [InFlight?] = []
    var freeFlights: [Int] = []
    var busyUntil: [Nanoseconds]
    var scheduledTick: [Nanoseconds]
    var schedules: [LinkKeySchedule] = []
    var generated: [UInt64]
    /// Per link and end (0 = low, 1 = high): next unit index the device hands over.
    var deviceNext: [[UInt64]]
    let keys: LinkKeyStreams
    let adjacency: [[(node: Int, link: Int)]]
    var scratch: [UInt8]
    var ids: [RequestID: Int32] = [:]
    let outcomes: Outcomes
    var counters = RunCounters()
    /// Which messages share a frame (for the authentication accounting).
    var frames: FrameGrouping
    var now: Nanoseconds = 0
    let end: Nanoseconds
    let sampleInterval: Nanoseconds = 100_000_000
    var lastSample: Nanoseconds = 0
    /// Largest engine memory footprint of one node, bytes.
    public private(set) var maxEngineBytes = 0
    /// Engine memory of all nodes together, bytes.
    public private(set) var totalEngineBytes = 0

    /// Builds the engines.
    /// - Throws: ``ConfigurationError`` when the scenario does not fit an engine configuration
    ///   (e.g. a node with more than 16 links, requests larger than 64 units).
    public init(scenario: Scenario, kind: ProtocolKind, routing: RoutingPolicy) throws(ConfigurationError) {
        precondition(kind.isEngine, "EngineNetworkRun runs engine protocols only")
        self.kind = kind
        self.routing = routing
        frames = FrameGrouping(links: scenario.network.links.count)
        self.scenario = scenario
        let c = try Self.configuration(scenario: scenario, kind: kind, routing: routing)
        configuration = c
        topology = scenario.network.engineTopology(unitBits: scenario.unitBits)
        let n = scenario.network.nodeCount
        for i in 0..<n {
            let e = try Engine(node: scenario.network.id(i), topology: topology, configuration: c, incarnation: 1)
            engines.append(e)
            maxEngineBytes = max(maxEngineBytes, e.memoryFootprint)
            totalEngineBytes += e.memoryFootprint
        }
        outbox = Outbox(for: c)
        busyUntil = Array(repeating: 0, count: n)
        scheduledTick = Array(repeating: .max, count: n)
        let links = scenario.network.links.count
        generated = Array(repeating: 0, count: links)
        deviceNext = Array(repeating: [0, 0], count: links)
        for l in 0..<links {
            schedules.append(
                LinkKeySchedule(
                    seed: scenario.seed, link: l, rate: scenario.network.links[l].rate, unitBits: scenario.unitBits,
                    mode: scenario.mode(of: l)))
        }
        keys = LinkKeyStreams(
            seed: scenario.seed &* 31 &+ 7,
            links: scenario.network.links.map { LinkID(scenario.network.id($0.a), scenario.network.id($0.b)) },
            unitSize: c.unitSize)
        adjacency = scenario.network.adjacency()
        scratch = Array(repeating: 0, count: c.poolCapacity * c.unitSize)
        outcomes = Outcomes(count: scenario.arrivals.count, detailed: scenario.recordTrace)
        end = scenario.duration + scenario.drain
    }

    /// Bytes the engines of one run of `scenario` would allocate (to refuse what does not fit before
    /// building thousands of engines).
    public static func estimatedEngineBytes(
        scenario: Scenario, kind: ProtocolKind, routing: RoutingPolicy
    ) throws(ConfigurationError) -> Int {
        let c = try configuration(scenario: scenario, kind: kind, routing: routing)
        let topology = scenario.network.engineTopology(unitBits: scenario.unitBits)
        var degree = Array(repeating: 0, count: scenario.network.nodeCount)
        for l in scenario.network.links {
            degree[l.a] += 1
            degree[l.b] += 1
        }
        return degree.reduce(0) { $0 + Engine.memoryFootprint(configuration: c, topology: topology, links: $1) }
    }

    /// The engine configuration of `kind` with `routing` for `scenario`.
    static func configuration(
        scenario: Scenario, kind: ProtocolKind, routing: RoutingPolicy
    ) throws(ConfigurationError) -> EngineConfiguration {
        var c = EngineConfiguration()
        c.unitSize = scenario.unitBits / 8
        let largest = scenario.arrivals.reduce(1) { max($0, scenario.units(bits: $1.bits)) }
        c.maxRequestUnits = largest
        var capacity = scenario.poolCapacity
        for l in scenario.network.links { if let k = l.capacity { capacity = max(capacity, k) } }
        c.poolCapacity = capacity
        c.recordCapacity = scenario.recordCapacity
        c.sourceCapacity = scenario.sourceCapacity
        c.accumulatorCapacity = min(128, scenario.recordCapacity)
        c.latencyBudget = scenario.latencyBudget
        c.nominalRateBeforePattern = false
        c.detourBudget = scenario.detourBudget
        c.detourReserve = scenario.detourReserve
        c.adaptiveMultipath = scenario.adaptiveMultipath
        c.linkStateRadius = scenario.linkStateRadius
        c.etaDeviations = scenario.etaDeviations
        c.deliveredHold = scenario.deliveredHold
        c.linkStateHold = scenario.linkStateHold
        c.frameHold = scenario.frameHold
        c.keyAwareRouting = routing == .keyAware
        // Link-state flooding only serves key-aware routing.
        c.linkStateInterval = routing == .keyAware ? scenario.linkStateInterval : 0
        c.paths = (kind == .akrpMultipath || kind == .akrpMultipathNoCDR) ? 3 : 1
        c.borrowing = !(kind == .akrpNoCDR || kind == .akrpMultipathNoCDR)
        try c.validate()
        return c
    }

    /// Runs to the end of the drain and returns the metrics. `progress` gets the fraction of
    /// simulated time done, now and then.
    public func run(workload: String, progress: ((Double) -> Void)? = nil) -> (ProtocolResult, [String]) {
        for i in engines.indices {
            outbox.clear()
            engines[i].start(now: 0, outbox: outbox)
            flush(i)
        }
        for l in schedules.indices {
            let b = schedules[l].next()
            queue.push(b.time, .keyBlock(link: l, units: b.units))
        }
        if !scenario.arrivals.isEmpty { queue.push(scenario.arrivals[0].time, .request(0)) }
        queue.push(sampleInterval, .sample)
        let steps = runEvents(progress: progress)
        // The engine reports most discards only in its counters (the event is for peer restarts).
        counters.discardedUnitEnds = engines.reduce(0) { $0 + $1.counters.unitsDiscarded }
        return finish(workload: workload, steps: steps)
    }

    func step(_ ev: Event) {
        switch ev {
        case .arrive(let f):
            let target = flights[f]!.target
            let start = max(now, busyUntil[target])
            busyUntil[target] = start + scenario.processing
            queue.push(start + scenario.processing, .process(f))
        case .process(let f):
            let flight = flights[f]!
            flights[f] = nil
            freeFlights.append(f)
            outbox.clear()
            flight.payload.withUnsafeBytes { p in engines[flight.target].receive(flight.message, payload: p, now: now, outbox: outbox) }
            flush(flight.target)
            deliverBacklog(flight.target)
        case .keyBlock(let l, let units):
            generated[l] += UInt64(units)
            counters.keyGeneratedUnits += UInt64(units)
            deliverKey(l, 0)
            deliverKey(l, 1)
            let b = schedules[l].next()
            if b.time <= end { queue.push(max(b.time, now), .keyBlock(link: l, units: b.units)) }
        case .request(let k):
            if k + 1 < scenario.arrivals.count { queue.push(scenario.arrivals[k + 1].time, .request(k + 1)) }
            submit(k)
        case .retry(let k):
            outcomes.attemptStart[k] = now
            submit(k)
        case .tick(let i):
            guard scheduledTick[i] == now else { return }
            scheduledTick[i] = .max
            outbox.clear()
            engines[i].tick(now: now, outbox: outbox)
            flush(i)
            deliverBacklog(i)
        case .sample:
            var held = 0
            for (l, link) in scenario.network.links.enumerated() {
                let low = min(link.a, link.b), high = max(link.a, link.b)
                guard let pool = engines[low].pool(toward: scenario.network.id(high)) else { continue }
                held += pool.heldUnits
                counters.peakPool = max(counters.peakPool, pool.availableDelivered)
                _ = l
            }
            counters.reservedUnitNanoseconds += Double(held) * Double(now - lastSample)
            lastSample = now
            queue.push(now + sampleInterval, .sample)
        }
    }

    /// Request `k` (a new attempt) at its source engine.
    private func submit(_ k: Int) {
        let a = scenario.arrivals[k]
        let i = Int(a.source)
        outbox.clear()
        do throws(RequestError) {
            let id = try engines[i].request(
                destination: scenario.network.id(Int(a.destination)), units: scenario.units(bits: a.bits), now: now,
                outbox: outbox)
            ids[id] = Int32(k)
        } catch {
            failed(k)
        }
        flush(i)
    }

    /// Attempt `k` failed: the application retries (when on), or the request has failed.
    private func failed(_ k: Int) {
        if !retryApplication(k, schedule: { queue.push($0, .retry(k)) }) { outcomes.outcome[k] = .failed }
    }

    /// A device hands over key it holds as soon as the pool has room again (not only at its next block).
    private func deliverBacklog(_ i: Int) {
        for (_, l) in adjacency[i] {
            let end = i == min(scenario.network.links[l].a, scenario.network.links[l].b) ? 0 : 1
            if generated[l] > deviceNext[l][end] { deliverKey(l, end) }
        }
    }

    private func deliverKey(_ l: Int, _ end: Int) {
        let link = scenario.network.links[l]
        let me = end == 0 ? min(link.a, link.b) : max(link.a, link.b)
        let peer = end == 0 ? max(link.a, link.b) : min(link.a, link.b)
        outbox.clear()
        deviceNext[l][end] = keys.handOver(
            link: l, next: deviceNext[l][end], available: generated[l], to: engines[me], from: scenario.network.id(peer),
            scratch: &scratch, now: now, outbox: outbox)
        flush(me)
    }

    /// Routes node `i`'s outbox into the network and the outcome records; schedules its next tick.
    private func flush(_ i: Int) {
        let from = scenario.network.id(i)
        var k = 0
        while k < outbox.eventCount {
            observe(outbox.event(k), node: from)
            k += 1
        }
        k = 0
        while k < outbox.messageCount {
            let m = outbox.message(k)
            let p = outbox.payload(k)
            let payload = p.isEmpty ? [] : Array(p)
            k += 1
            let target = Int(m.to.rawValue) - 1
            guard let l = topology.index(of: LinkID(m.from, m.to)) else { continue }
            counters.messages += 1
            if frames.startsFrame(link: l, fromLow: m.from < m.to, now: now) { counters.frames += 1 }
            counters.messagesByKind[Int(m.kind.rawValue) & 15] += 1
            let flight = InFlight(message: m, payload: payload, target: target)
            let f: Int
            if let reuse = freeFlights.popLast() {
                flights[reuse] = flight
                f = reuse
            } else {
                flights.append(flight)
                f = flights.count - 1
            }
            queue.push(now + scenario.network.links[l].delay, .arrive(f))
        }
        outbox.clear()
        let e = engines[i]
        let t = max(now + 1, min(e.nextTimer, e.nextAnnouncement))
        if t < scheduledTick[i] && t != .max {
            scheduledTick[i] = t
            queue.push(t, .tick(i))
        }
    }

    private func observe(_ e: EngineEvent, node: NodeID) {
        switch e.kind {
        case .keyDelivered:
            guard let k = ids[e.request].map(Int.init) else { return }
            if e.role == .source {
                outcomes.sourceTime[k] = now
                if outcomes.detailed { outcomes.sourceDigest[k] = keyDigest(outbox.keyBytes(of: e)) }
            } else {
                outcomes.destinationTime[k] = now
                // The engine topology lists the scenario's links in their order (engineTopology), and a
                // delivered path runs over configured links only.
                outcomes.floor[k] = floorLatency(
                    links: (0..<e.path.hops).lazy.map { self.topology.index(of: LinkID(e.path[$0], e.path[$0 + 1]))! })
                if outcomes.detailed {
                    outcomes.destinationDigest[k] = keyDigest(outbox.keyBytes(of: e))
                    outcomes.paths[k] = (0...e.path.hops).map { e.path[$0].rawValue }
                }
            }
            if outcomes.sourceTime[k] > 0 && outcomes.destinationTime[k] > 0 && outcomes.outcome[k] == .pending {
                outcomes.outcome[k] = .delivered
            }
        case .requestFailed:
            guard let k = ids[e.request].map(Int.init) else { return }
            if outcomes.outcome[k] == .pending { failed(k) }
        case .unitsConsumed:
            guard node == e.link.low, let k = ids[e.request].map(Int.init) else { return }
            outcomes.consumed[k] += Int32(e.units.unitCount)
            if outcomes.detailed, let li = topology.index(of: e.link) {
                for r in 0..<Int(e.units.runCount) {
                    outcomes.ranges[k].append((Int32(li), e.units[r].start, e.units[r].count))
                }
            }
        case .unitsDiscarded:
            counters.discardedUnitEnds += UInt64(e.count)
        case .requestAccepted:
            guard outcomes.detailed, let k = ids[e.request].map(Int.init) else { return }
            outcomes.paths[k] = (0...e.path.hops).map { e.path[$0].rawValue }
        default:
            break
        }
    }
}

/// JSON lines of per-request outcomes (the `--trace` format of `docs/SIMULATOR.md`). Each line names its
/// run — protocol, routing, load and (AKRP) latency budget — so that the lines of a sweep stay apart.
func traceLines(protocol p: ProtocolKind, routing: RoutingPolicy, scenario s: Scenario, outcomes o: Outcomes) -> [String] {
    let budget = p.isEngine ? "\(s.latencyBudget / 1_000_000)" : "null"
    let run = "\"protocol\":\"\(p.rawValue)\",\"routing\":\"\(routing.rawValue)\",\"load\":\(s.load),\"budget_ms\":\(budget)"
    var out: [String] = []
    out.reserveCapacity(s.arrivals.count)
    for (i, a) in s.arrivals.enumerated() {
        let ranges = o.ranges[i].map { "{\"link\":\"\(s.network.links[Int($0.link)].a + 1)-\(s.network.links[Int($0.link)].b + 1)\",\"first\":\($0.start),\"count\":\($0.count)}" }
        let delivered = o.outcome[i] == .delivered
        let done = max(o.sourceTime[i], o.destinationTime[i])
        func hex(_ v: UInt64) -> String {
            let h = String(v, radix: 16)
            return String(repeating: "0", count: 16 - h.count) + h
        }
        out.append(
            "{\"id\":\(i),\(run),\"source\":\(a.source + 1),\"destination\":\(a.destination + 1),\"path\":[\(o.paths[i].map(String.init).joined(separator: ","))],\"outcome\":\"\(o.outcome[i].name)\",\"bits\":\(a.bits),\"units\":[\(ranges.joined(separator: ","))],\"arrival_ns\":\(a.time),\"delivery_ns\":\(delivered ? String(done) : "null"),\"source_digest\":\(o.sourceTime[i] > 0 ? "\"\(hex(o.sourceDigest[i]))\"" : "null"),\"destination_digest\":\(o.destinationTime[i] > 0 ? "\"\(hex(o.destinationDigest[i]))\"" : "null")}"
        )
    }
    return out
}
