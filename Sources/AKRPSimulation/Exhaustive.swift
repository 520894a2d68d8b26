public import AKRPEngine

/// What an exhaustive exploration covered.
public struct ExplorationResult: Sendable {
    /// Distinct states reached (engines plus in-flight messages plus key delivered).
    public var states = 0
    /// Transitions taken (each a message delivery or a key delivery).
    public var transitions = 0
    /// Final states (nothing left to deliver) checked against all five invariants.
    public var terminals = 0
    /// Longest path of transitions from the start state.
    public var maxDepth = 0
    /// Final states in which CD&R had to resolve a conflict (owner override or substitution).
    public var terminalsWithConflict = 0
    /// Invariant violations found, each with the schedule that led to it.
    public var violations: [String] = []
}

/// Exhaustive model checking of two requests reserving from opposite ends of a 3-node line at once:
/// every interleaving of message deliveries (per-link FIFO, as TCP gives) and of late key deliveries is
/// explored; states reached twice are explored once. Every final state is run to quiescence and checked
/// against the five invariants, and both requests must have been delivered with identical keys.
public struct OppositeReservationsModel {
    /// Units each of the two requests asks for.
    public var unitsPerRequest = 3
    /// Units delivered to each link before the requests start.
    public var initialKey = 4
    /// Units delivered later, interleaved with the messages.
    public var lateKey = 4
    /// CD&R ownership block (units): small, so that both ends own units in the window.
    public var ownershipBlock: UInt64 = 2
    #if AKRP_MUTATIONS
    /// The deliberate fault every engine commits (tests of the checkers; debug builds only).
    public var mutation: EngineMutation = .none
    #endif

    /// How long `delivered` notices wait for company (`EngineConfiguration.deliveredHold`). Time only
    /// moves at the end, so with a hold the notices travel only with other messages during the
    /// exploration (the default's behaviour); 0 explores every interleaving of sending them at once.
    public var deliveredHold: UInt64 = EngineConfiguration().deliveredHold

    /// The default model (the one `akrp-sim explore` checks).
    public init() {}

    func configuration() -> EngineConfiguration {
        var c = EngineConfiguration()
        c.poolCapacity = 32
        c.ownershipBlock = ownershipBlock
        c.maxRequestUnits = 8
        c.recordCapacity = 8
        c.accumulatorCapacity = 4
        c.sourceCapacity = 4
        c.outboxCapacity = 64
        c.eventCapacity = 64
        c.linkStateInterval = 0
        c.latencyBudget = 10_000_000_000
        c.lease = 30_000_000_000
        c.completionGrace = 30_000_000_000
        c.deliveredHold = deliveredHold
        return c
    }

    /// The 3-node line 1 – 2 – 3.
    public static func line() -> Topology {
        // Valid by construction.
        try! Topology(
            nodes: [NodeID(1), NodeID(2), NodeID(3)],
            links: [
                TopologyLink(a: NodeID(1), b: NodeID(2), unitsPerSecond: 1000, delay: 1_000_000),
                TopologyLink(a: NodeID(2), b: NodeID(3), unitsPerSecond: 1000, delay: 1_000_000),
            ])
    }

    /// Builds the initial state: handshakes done, some key delivered, both requests issued at once.
    func initial() -> (ManualNetwork, [RequestID]) {
        let net = try! ManualNetwork(topology: Self.line(), configuration: configuration())
        #if AKRP_MUTATIONS
        for engine in net.engines { engine.mutation = mutation }
        #endif
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: initialKey) }
        var ids: [RequestID] = []
        if let a = try? net.request(from: NodeID(1), to: NodeID(3), units: unitsPerRequest) { ids.append(a) }
        if let b = try? net.request(from: NodeID(3), to: NodeID(1), units: unitsPerRequest) { ids.append(b) }
        return (net, ids)
    }

    /// Possible next steps: deliver the head of a busy queue, or a late key block to one link end.
    func choices(_ net: ManualNetwork, lateDone: [Bool]) -> [Int] {
        var c = net.busyQueues
        for k in 0..<4 where !lateDone[k] { c.append(1000 + k) }
        return c
    }

    func apply(_ choice: Int, _ net: ManualNetwork, _ lateDone: inout [Bool]) {
        if choice >= 1000 {
            let k = choice - 1000
            lateDone[k] = true
            net.supplyKey(link: net.topology.links[k / 2].id, count: lateKey, end: k % 2)
        } else {
            net.deliver(queue: choice)
        }
    }

    /// Explores the whole state space. `limit` bounds the number of states (a safety stop).
    public func explore(limit: Int = 2_000_000) -> ExplorationResult {
        var result = ExplorationResult()
        var visited = Set<Int>()
        var stack: [[Int]] = [[]]
        while let prefix = stack.popLast() {
            let (net, ids) = initial()
            var late = [false, false, false, false]
            for c in prefix { apply(c, net, &late) }
            var h = Hasher()
            h.combine(net.stateDigest())
            h.combine(late)
            guard visited.insert(h.finalize()).inserted else { continue }
            result.states += 1
            result.maxDepth = max(result.maxDepth, prefix.count)
            if !net.checker.violations.isEmpty {
                result.violations.append("after \(prefix): \(net.checker.violations[0])")
                continue
            }
            let next = choices(net, lateDone: late)
            if next.isEmpty {
                result.terminals += 1
                checkTerminal(net, ids, prefix, &result)
                continue
            }
            if result.states >= limit { break }
            for c in next {
                result.transitions += 1
                stack.append(prefix + [c])
            }
        }
        return result
    }

    func checkTerminal(_ net: ManualNetwork, _ ids: [RequestID], _ prefix: [Int], _ result: inout ExplorationResult) {
        for _ in 0..<20 {
            net.advance(by: 500_000_000)
            net.run()
        }
        net.checker.checkQuiescent(engines: net.engines, faultFree: true, time: net.now)
        if net.engines.contains(where: { $0.counters.conflictsResolved + $0.counters.unitsSubstituted > 0 }) {
            result.terminalsWithConflict += 1
        }
        if let v = net.checker.violations.first {
            result.violations.append("schedule \(prefix): \(v)")
            return
        }
        if ids.count != 2 { result.violations.append("requests were not both accepted at start") }
        for id in ids {
            guard let s = net.sourceKeys[id], let d = net.destinationKeys[id] else {
                result.violations.append("schedule \(prefix): \(id) not delivered (\(net.failures[id].map { "\($0)" } ?? "no failure"))")
                return
            }
            if s != d { result.violations.append("schedule \(prefix): \(id) keys differ") }
        }
    }
}
