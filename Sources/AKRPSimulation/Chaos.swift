#if AKRP_MUTATIONS
public import AKRPEngine
#else
import AKRPEngine
#endif

/// What one deterministic simulation-testing seed did.
public struct ChaosResult: Sendable {
    /// The seed (replays the run exactly).
    public var seed: UInt64
    /// No faults were injected (invariants 4 and 5 are checked too).
    public var faultFree: Bool
    /// Nodes of the random topology.
    public var nodes: Int
    /// Links of the random topology.
    public var links: Int
    /// Paths each request searches (1 or more: multipath).
    public var paths: Int
    /// Requests made.
    public var requests: Int
    /// Requests the engines accepted.
    public var accepted: Int
    /// Requests delivered at both ends.
    public var deliveredBothEnds: Int
    /// Node crashes (each followed by a restart).
    public var crashes: Int
    /// Messages dropped by the scheduler.
    public var droppedMessages: Int
    /// Messages delivered twice.
    public var duplicatedMessages: Int
    /// Connections dropped with what was in flight.
    public var connectionDrops: Int
    /// Key delivery stalls injected.
    public var stalls: Int
    /// Scheduler steps taken.
    public var steps: Int
    /// Units consumed (both ends counted).
    public var unitsConsumed: Int
    /// Units discarded by the engines.
    public var unitsDiscarded: UInt64
    /// CD&R conflicts resolved.
    public var conflictsResolved: UInt64
    /// Units yielded at commit to later ones.
    public var unitsYielded: UInt64
    /// `delivered` notices that waited for company (`EngineCounters.deliveredNoticesHeld`).
    public var noticesHeld: UInt64 = 0
    /// Link-state announcements that waited for company (`EngineCounters.linkStatesHeld`).
    public var linkStatesHeld: UInt64 = 0
    /// Reservation messages that waited for company on busy links (`EngineCounters.reservationMessagesHeld`).
    public var reservationMessagesHeld: UInt64 = 0
    /// Inputs the engines refused (counted `InputRejection`s).
    public var rejections: UInt64
    /// Invariant violations found (empty when the seed passed).
    public var violations: [Violation]
    /// Delivered keys the checker compared byte for byte with the stream bytes of their units.
    public var keysCheckedAgainstStreams = 0
    /// The command that replays this seed exactly.
    public var replayCommand: String { "swift run akrp-sim chaos --seeds 1 --first-seed \(seed)" }
}

/// Deterministic simulation testing: real engines on a random topology and workload, driven by a
/// seeded scheduler that delays, reorders, duplicates and drops messages, drops connections (losing
/// what was in flight), crashes and restarts nodes and stalls key delivery. Every step is checked
/// against the invariants; the end state is checked after a fault-free drain.
public final class ChaosRun {
    enum Event {
        case message(Int)
        case keyBlock(Int)
        case deliver(link: Int, end: Int)
        case request(Int)
        case tick(node: Int)
        case crash(Int)
        case restart(Int)
        case connectionDrop(Int)
        case stall(link: Int, end: Int, duration: UInt64)
    }

    struct InFlight {
        var message: Message
        var payload: [UInt8]
        var link: Int
        var epoch: Int
        var target: Int
    }

    /// The run's seed: topology, workload, faults and key streams all follow from it.
    public let seed: UInt64
    var rng: SplitMix64
    let topology: Topology
    let configuration: EngineConfiguration
    let faultFree: Bool
    let duration: UInt64
    let drain: UInt64
    var engines: [Engine?]
    var incarnations: [UInt64]
    var scheduledTick: [UInt64]
    let outbox: Outbox
    var queue = EventQueue<Event>()
    var flights: [InFlight?] = []
    var freeFlights: [Int] = []
    var epochs: [Int]
    var lastArrival: [Int: UInt64] = [:]
    /// Per link and end (0 = low, 1 = high): next unit index the device hands to the pool.
    var deviceNext: [[UInt64]]
    var generated: [UInt64]
    var stalledUntil: [[UInt64]]
    let keys: LinkKeyStreams
    let checker: InvariantChecker
    var now: UInt64 = 0
    var result: ChaosResult
    var scratch: [UInt8]
    // Fault rates (zero when fault-free).
    let dropRate: Double
    let duplicateRate: Double
    let reorderRate: Double
    let requestRate: Double

    #if AKRP_MUTATIONS
    /// The deliberate fault every engine of the run commits (tests of the checkers; debug builds only).
    public var mutation: EngineMutation = .none
    #endif

    /// Builds the run of `seed`: topology, configuration and fault mix all derive from the seed.
    /// - Parameter checkingKeyBytes: also check every delivered key against the device streams' bytes
    ///   (``InvariantChecker/init(keyStreams:)``); false checks the engines' reports only.
    public init(seed: UInt64, duration: UInt64 = 3_000_000_000, checkingKeyBytes: Bool = true) {
        self.seed = seed
        var r = SplitMix64(seed: seed)
        rng = SplitMix64(seed: seed ^ 0x5EED)
        let n = 3 + Int(r.next() % 6)
        var links: [TopologyLink] = []
        var present = Set<LinkID>()
        func addLink(_ a: Int, _ b: Int, _ r: inout SplitMix64) {
            let id = LinkID(NodeID(UInt32(a + 1)), NodeID(UInt32(b + 1)))
            guard a != b, !present.contains(id) else { return }
            present.insert(id)
            links.append(
                TopologyLink(
                    a: NodeID(UInt32(a + 1)), b: NodeID(UInt32(b + 1)),
                    unitsPerSecond: Double(100 + r.next() % 900), delay: 1_000_000 + r.next() % 9_000_000))
        }
        for i in 1..<n { addLink(i, Int(r.next() % UInt64(i)), &r) }
        let extra = Int(r.next() % UInt64(n))
        for _ in 0..<extra { addLink(Int(r.next() % UInt64(n)), Int(r.next() % UInt64(n)), &r) }
        // Valid by construction (a random tree plus chords).
        topology = try! Topology(nodes: (1...n).map { NodeID(UInt32($0)) }, links: links)
        var c = EngineConfiguration()
        c.poolCapacity = 96 + Int(r.next() % 64)
        c.ownershipBlock = 1 + r.next() % 6
        c.maxRequestUnits = 8
        c.recordCapacity = 48
        c.accumulatorCapacity = 12
        c.sourceCapacity = 12
        c.outboxCapacity = 512
        c.eventCapacity = 512
        c.latencyBudget = 300_000_000 + r.next() % 1_500_000_000
        c.lease = 800_000_000
        c.completionGrace = 800_000_000
        c.retryInterval = 100_000_000
        c.linkStateInterval = 150_000_000
        c.paths = 1 + Int(r.next() % 3)
        c.branchWindow = 20_000_000
        c.borrowing = r.next() % 8 != 0
        // Admission variants from their own stream (the draws above keep their seeds' meaning):
        // adaptive multipath, and the detour budget off, 0 or 100 ms.
        var variant = SplitMix64(seed: seed ^ 0xADA7_7E5)
        c.adaptiveMultipath = variant.next() % 2 == 0
        switch variant.next() % 3 {
        case 0: c.detourBudget = nil
        case 1: c.detourBudget = 0
        default: c.detourBudget = 100_000_000
        }
        // A quarter of the seeds route by least delay (single-path requests then search their further
        // candidates only when the first path fails).
        c.keyAwareRouting = variant.next() % 4 != 0
        configuration = c
        faultFree = r.next() % 4 == 0
        dropRate = faultFree ? 0 : r.unit() * 0.05
        duplicateRate = faultFree ? 0 : r.unit() * 0.05
        reorderRate = faultFree ? 0 : r.unit() * 0.1
        // A third of the seeds overload the network, so that key runs short: future units, admission
        // refusals, conflicts and yields.
        requestRate = r.next() % 3 == 0 ? 60 + r.unit() * 140 : 5 + r.unit() * 25
        self.duration = duration
        drain = 12_000_000_000
        engines = Array(repeating: nil, count: n)
        incarnations = Array(repeating: 1, count: n)
        scheduledTick = Array(repeating: .max, count: n)
        // Sometimes a tight outbox arena, so that completions must wait for room and retry.
        let keyBytes = c.maxRequestUnits * c.unitSize
        outbox = Outbox(
            messageCapacity: c.outboxCapacity, eventCapacity: c.eventCapacity,
            arenaBytes: keyBytes * (r.next() % 3 == 0 ? 2 + Int(r.next() % 3) : 64))
        epochs = Array(repeating: 0, count: links.count)
        deviceNext = Array(repeating: [0, 0], count: links.count)
        generated = Array(repeating: 0, count: links.count)
        stalledUntil = Array(repeating: [0, 0], count: links.count)
        keys = LinkKeyStreams(seed: seed &* 31 &+ 7, links: topology.links.map(\.id), unitSize: c.unitSize)
        checker = checkingKeyBytes ? InvariantChecker(keyStreams: keys) : InvariantChecker()
        scratch = Array(repeating: 0, count: c.poolCapacity * c.unitSize)
        result = ChaosResult(
            seed: seed, faultFree: faultFree, nodes: n, links: links.count, paths: c.paths, requests: 0,
            accepted: 0, deliveredBothEnds: 0, crashes: 0, droppedMessages: 0, duplicatedMessages: 0,
            connectionDrops: 0, stalls: 0, steps: 0, unitsConsumed: 0, unitsDiscarded: 0, conflictsResolved: 0, unitsYielded: 0,
            rejections: 0, violations: [])
    }

    /// Runs the seed to the end of its drain and returns what happened.
    public func run() -> ChaosResult {
        for i in 0..<engines.count { boot(i) }
        for l in 0..<topology.links.count { queue.push(UInt64(rng.next() % 50_000_000), .keyBlock(l)) }
        for i in 0..<engines.count { queue.push(nextArrival(), .request(i)) }
        if !faultFree {
            let crashes = Int(rng.next() % 3)
            for _ in 0..<crashes { queue.push(rng.next() % duration, .crash(Int(rng.next() % UInt64(engines.count)))) }
            let drops = Int(rng.next() % 4)
            for _ in 0..<drops {
                queue.push(rng.next() % duration, .connectionDrop(Int(rng.next() % UInt64(topology.links.count))))
            }
            let stalls = Int(rng.next() % 3)
            for _ in 0..<stalls {
                queue.push(
                    rng.next() % duration,
                    .stall(
                        link: Int(rng.next() % UInt64(topology.links.count)), end: Int(rng.next() % 2),
                        duration: 200_000_000 + rng.next() % 1_500_000_000))
            }
        }
        let end = duration + drain
        while let (t, ev) = queue.pop() {
            if t > end { break }
            now = t
            result.steps += 1
            step(ev)
            if checker.violations.count >= checker.maxViolations { break }
        }
        now = end
        let live = engines.compactMap { $0 }
        checker.checkQuiescent(engines: live, faultFree: faultFree, time: now)
        result.accepted = checker.acceptedCount
        result.deliveredBothEnds = checker.deliveredBothEnds
        result.unitsConsumed = checker.unitsConsumed
        result.unitsDiscarded = live.reduce(0) { $0 + $1.counters.unitsDiscarded }
        result.conflictsResolved = live.reduce(0) { $0 + $1.counters.conflictsResolved }
        result.rejections = live.reduce(0) { $0 + $1.counters.totalRejections }
        result.unitsYielded = live.reduce(0) { $0 + $1.counters.unitsYielded }
        result.noticesHeld = live.reduce(0) { $0 + $1.counters.deliveredNoticesHeld }
        result.linkStatesHeld = live.reduce(0) { $0 + $1.counters.linkStatesHeld }
        result.reservationMessagesHeld = live.reduce(0) { $0 + $1.counters.reservationMessagesHeld }
        result.violations = checker.violations
        result.keysCheckedAgainstStreams = checker.keysCheckedAgainstStreams
        return result
    }

    private var inDrain: Bool { now >= duration }

    private func nextArrival() -> UInt64 {
        now + UInt64(rng.exponential(mean: 1e9 / requestRate * Double(engines.count)))
    }

    private func boot(_ i: Int) {
        // Valid by construction: the node is in the topology and the configuration was validated here.
        let e = try! Engine(
            node: topology.nodes[i], topology: topology, configuration: configuration, incarnation: incarnations[i])
        engines[i] = e
        #if AKRP_MUTATIONS
        e.mutation = mutation
        #endif
        // Shell duty (docs/PROTOCOL.md §11): position every pool at its device's next index before the
        // handshake, so a restarted node never binds a unit its device delivered to an earlier life.
        for (peer, li) in topology.neighbours(of: topology.nodes[i]) {
            let end = topology.nodes[i] < peer ? 0 : 1
            e.pool(toward: peer)?.skip(to: deviceNext[li][end])
        }
        outbox.clear()
        e.start(now: now, outbox: outbox)
        flush(i)
    }

    private func step(_ ev: Event) {
        switch ev {
        case .message(let f):
            guard let flight = flights[f] else { return }
            flights[f] = nil
            freeFlights.append(f)
            guard flight.epoch == epochs[flight.link], let e = engines[flight.target] else {
                result.droppedMessages += 1
                return
            }
            outbox.clear()
            flight.payload.withUnsafeBytes { p in e.receive(flight.message, payload: p, now: now, outbox: outbox) }
            flush(flight.target)
        case .keyBlock(let l):
            let link = topology.links[l]
            let period = 20_000_000 + rng.next() % 180_000_000
            let block = max(1, UInt64(link.unitsPerSecond * Double(period) / 1e9))
            generated[l] += block
            queue.push(now + rng.next() % 3_000_000, .deliver(link: l, end: 0))
            queue.push(now + rng.next() % 3_000_000, .deliver(link: l, end: 1))
            queue.push(now + period, .keyBlock(l))
        case .deliver(let l, let end):
            deliverKey(l, end)
        case .request(let i):
            guard !inDrain else { return }
            queue.push(nextArrival(), .request(i))
            guard let e = engines[i] else { return }
            var dest = Int(rng.next() % UInt64(engines.count - 1))
            if dest >= i { dest += 1 }
            let size = 1 + Int(rng.next() % 4)
            outbox.clear()
            do throws(RequestError) {
                _ = try e.request(destination: topology.nodes[dest], units: size, now: now, outbox: outbox)
                result.requests += 1
            } catch {}
            flush(i)
        case .tick(let i):
            guard scheduledTick[i] == now, let e = engines[i] else { return }
            scheduledTick[i] = .max
            outbox.clear()
            e.tick(now: now, outbox: outbox)
            flush(i)
        case .crash(let i):
            guard engines[i] != nil, !inDrain else { return }
            engines[i] = nil
            scheduledTick[i] = .max
            result.crashes += 1
            queue.push(now + 100_000_000 + rng.next() % 700_000_000, .restart(i))
        case .restart(let i):
            guard engines[i] == nil else { return }
            incarnations[i] += 1
            boot(i)
        case .connectionDrop(let l):
            guard !inDrain else { return }
            epochs[l] += 1
            result.connectionDrops += 1
        case .stall(let l, let end, let d):
            guard !inDrain else { return }
            stalledUntil[l][end] = now + d
            result.stalls += 1
            queue.push(now + d, .deliver(link: l, end: end))
        }
    }

    private func deliverKey(_ l: Int, _ end: Int) {
        let link = topology.links[l]
        let nodeID = end == 0 ? link.id.low : link.id.high
        let peer = end == 0 ? link.id.high : link.id.low
        guard let i = topology.index(of: nodeID), let e = engines[i] else { return }
        guard stalledUntil[l][end] <= now || inDrain else { return }
        outbox.clear()
        deviceNext[l][end] = keys.handOver(
            link: l, next: deviceNext[l][end], available: generated[l], to: e, from: peer, scratch: &scratch, now: now,
            outbox: outbox)
        flush(i)
    }

    /// Routes the outbox of node `i` into the network and the checker; schedules its next tick.
    private func flush(_ i: Int) {
        let from = topology.nodes[i]
        checker.observe(outbox: outbox, node: from, time: now)
        var k = 0
        while k < outbox.messageCount {
            let m = outbox.message(k)
            let payload = Array(outbox.payload(k))
            k += 1
            guard let target = topology.index(of: m.to), let l = topology.index(of: LinkID(m.from, m.to)) else { continue }
            if rng.chance(dropRate) {
                result.droppedMessages += 1
                continue
            }
            let copies = rng.chance(duplicateRate) ? 2 : 1
            if copies == 2 { result.duplicatedMessages += 1 }
            for _ in 0..<copies {
                let base = topology.links[l].delay
                var at = now + base + rng.next() % 2_000_000
                let key = l * 2 + (m.from < m.to ? 0 : 1)
                if !rng.chance(reorderRate) {
                    at = max(at, lastArrival[key] ?? 0)
                    lastArrival[key] = at
                }
                let flight = InFlight(message: m, payload: payload, link: l, epoch: epochs[l], target: target)
                let f: Int
                if let reuse = freeFlights.popLast() {
                    flights[reuse] = flight
                    f = reuse
                } else {
                    flights.append(flight)
                    f = flights.count - 1
                }
                queue.push(at, .message(f))
            }
        }
        outbox.clear()
        if let e = engines[i] {
            let t = max(now + 1, min(e.nextTimer, e.nextAnnouncement))
            if t < scheduledTick[i] && t != .max {
                scheduledTick[i] = t
                queue.push(t, .tick(node: i))
            }
        }
    }
}
