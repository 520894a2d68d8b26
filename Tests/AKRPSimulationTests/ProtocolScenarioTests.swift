import AKRPEngine
import AKRPSimulation
import Testing

/// Protocol behaviour on small networks of real engines, messages delivered by hand.
@Suite("Protocol scenarios")
struct ProtocolScenarioTests {
    static func line(_ n: Int, rate: Double = 1000) -> Topology { SmallNetwork.line(n, rate: rate) }

    static func config() -> EngineConfiguration { SmallNetwork.configuration() }

    func network(_ n: Int, key: Int = 32, configure: (inout EngineConfiguration) -> Void = { _ in }) throws -> ManualNetwork {
        var c = Self.config()
        configure(&c)
        let net = try ManualNetwork(topology: Self.line(n), configuration: c)
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: key) }
        return net
    }

    @Test("a 4-hop request is delivered with identical keys at both ends and all units consumed")
    func fourHops() throws {
        let net = try network(5)
        let id = try net.request(from: NodeID(1), to: NodeID(5), units: 3)
        net.run()
        let s = try #require(net.sourceKeys[id])
        let d = try #require(net.destinationKeys[id])
        #expect(s == d)
        #expect(s.count == 3 * 32)
        #expect(s.contains { $0 != 0 })
        for e in net.engines {
            #expect(e.heldUnits == 0)
            #expect(e.activeRecords == 0)
        }
        // 4 links, 3 units each, consumed at both ends.
        #expect(net.engines.reduce(0) { $0 + $1.counters.unitsConsumed } == 4 * 3 * 2)
        #expect(net.checker.violations.isEmpty)
    }

    @Test("relay shares wait for future key and the request completes when it arrives")
    func futureKey() throws {
        let net = try network(3, key: 0)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.sourceKeys[id] == nil)
        #expect(net.engines.reduce(0) { $0 + $1.heldUnits } > 0)
        for l in net.topology.links { net.supplyKey(link: l.id, count: 16) }
        net.run()
        #expect(net.sourceKeys[id] != nil)
        #expect(net.sourceKeys[id] == net.destinationKeys[id])
    }

    @Test("CD&R: two requests reserving from opposite ends at once both complete, conflicts resolved per unit")
    func opposite() throws {
        // Few units: each end must borrow the other's, so the same units are claimed from both sides.
        let net = try network(3, key: 8) { $0.ownershipBlock = 2 }
        let a = try net.request(from: NodeID(1), to: NodeID(3), units: 3)
        let b = try net.request(from: NodeID(3), to: NodeID(1), units: 3)
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: 8) }
        net.run()
        #expect(net.sourceKeys[a] != nil && net.sourceKeys[a] == net.destinationKeys[a])
        #expect(net.sourceKeys[b] != nil && net.sourceKeys[b] == net.destinationKeys[b])
        let cdr = net.engines.reduce(0) { $0 + $1.counters.conflictsResolved + $1.counters.unitsSubstituted }
        #expect(cdr > 0)
        #expect(net.checker.violations.isEmpty)
    }

    /// Least-delay routing searches a request's further candidates only when its first path fails: the
    /// re-route must find them then. A ring 1–2–3–4–1 whose short side (1–2–3, 2 ms) has no key and
    /// whose long side (1–4–3, 20 ms) has: the request is refused on the first path, re-routed over the
    /// second and delivered there; with no re-routes allowed (one candidate, nothing deferred: the
    /// control) it fails.
    @Test("least-delay routing: the further candidates are searched when the first path fails")
    func deferredCandidates() throws {
        let ring = try Topology(
            nodes: (1...4).map { NodeID(UInt32($0)) },
            links: [
                TopologyLink(a: NodeID(1), b: NodeID(2), unitsPerSecond: 1, delay: 1_000_000),
                TopologyLink(a: NodeID(2), b: NodeID(3), unitsPerSecond: 1, delay: 1_000_000),
                TopologyLink(a: NodeID(3), b: NodeID(4), unitsPerSecond: 1000, delay: 10_000_000),
                TopologyLink(a: NodeID(4), b: NodeID(1), unitsPerSecond: 1000, delay: 10_000_000),
            ])
        for reroutes in [0, 2] {
            var c = Self.config()
            c.keyAwareRouting = false
            c.latencyBudget = 100_000_000
            c.reroutes = reroutes
            let net = try ManualNetwork(topology: ring, configuration: c)
            net.run()
            net.supplyKey(link: LinkID(NodeID(3), NodeID(4)), count: 16)
            net.supplyKey(link: LinkID(NodeID(4), NodeID(1)), count: 16)
            let id = try net.request(from: NodeID(1), to: NodeID(3), units: 4)
            net.run()
            let source = net.engines[0]
            if reroutes == 0 {
                #expect(net.failures[id] == .noKeyWithinBudget)
                #expect(source.counters.reroutes == 0)
            } else {
                #expect(source.counters.reroutes == 1)
                #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
                let delivered = net.events.first { $0.event.kind == .keyDelivered && $0.event.request == id }
                #expect(delivered?.event.path.hops == 2 && delivered?.event.path[1] == NodeID(4))
            }
            #expect(net.checker.violations.isEmpty)
        }
    }

    @Test("admission: a request that cannot get key within its latency budget is refused at once")
    func admission() throws {
        // 10 units/s and a 100 ms budget: at most one future unit fits; 4 are needed.
        var c = Self.config()
        c.latencyBudget = 100_000_000
        c.reroutes = 0
        let net = try ManualNetwork(topology: Self.line(3, rate: 10), configuration: c)
        net.run()
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 4)
        net.run()
        #expect(net.failures[id] == .noKeyWithinBudget)
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 && $0.activeRecords == 0 })
    }

    @Test("a full request table fails the request with a reason, never a trap")
    func tableFull() throws {
        let net = try network(3, key: 64) { $0.recordCapacity = 1; $0.reroutes = 0 }
        let a = try net.request(from: NodeID(1), to: NodeID(3), units: 1)
        let b = try net.request(from: NodeID(3), to: NodeID(1), units: 1)
        net.run()
        let failed = [a, b].filter { net.failures[$0] == .tableFull }
        #expect(failed.count >= 1)
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 && $0.activeRecords == 0 })
        #expect(throws: RequestError.badSize) { _ = try net.request(from: NodeID(1), to: NodeID(3), units: 9) }
        #expect(throws: RequestError.destinationIsSelf) { _ = try net.request(from: NodeID(1), to: NodeID(1), units: 1) }
    }

    @Test("multipath: the branch that completes earliest wins and the others are released")
    func multipath() throws {
        // Ring 1-2-3-4-1: paths 1>2>3 and 1>4>3. The 1-4 link has no key yet: the 1>2>3 branch wins.
        func l(_ a: UInt32, _ b: UInt32) -> TopologyLink {
            TopologyLink(a: NodeID(a), b: NodeID(b), unitsPerSecond: 100, delay: 1_000_000)
        }
        let t = try Topology(nodes: (1...4).map { NodeID($0) }, links: [l(1, 2), l(2, 3), l(3, 4), l(4, 1)])
        var c = Self.config()
        c.paths = 2
        let net = try ManualNetwork(topology: t, configuration: c)
        net.run()
        for link in [LinkID(NodeID(1), NodeID(2)), LinkID(NodeID(2), NodeID(3)), LinkID(NodeID(3), NodeID(4))] {
            net.supplyKey(link: link, count: 16)
        }
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        let accepted = net.events.first { $0.event.kind == .requestAccepted && $0.event.request == id }
        #expect(accepted?.event.path.description == "1>2>3")
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(net.engine(NodeID(1)).counters.branchesReleased == 1)
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 && $0.activeRecords == 0 })
        #expect(net.engines.reduce(0) { $0 + $1.counters.unitsDiscarded } == 0)
    }

    @Test("crash: a restarted node's neighbours discard the link's units and fail its requests safely")
    func crash() throws {
        let net = try network(3, key: 0)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.engine(NodeID(1)).heldUnits > 0)
        try net.restart(NodeID(2), incarnation: 2)
        net.run()
        for _ in 0..<40 {
            net.advance(by: 500_000_000)
            net.run()
        }
        #expect(net.failures[id] != nil)
        #expect(net.engine(NodeID(1)).counters.peerRestarts == 1)
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 && $0.activeRecords == 0 })
        #expect(net.engines.allSatisfy { e in e.neighbours.allSatisfy { e.isLinkUp(toward: $0) } })
        // The link works again after the restart.
        for l in net.topology.links { net.supplyKey(link: l.id, count: 16) }
        let again = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.failures[again] == nil, "\(net.failures[again].map { "\($0)" } ?? "")")
        #expect(net.sourceKeys[again] != nil && net.sourceKeys[again] == net.destinationKeys[again])
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a lost commit: the downstream end asks upstream, learns it committed, and discards — never frees")
    func lostCommit() throws {
        let net = try network(3, key: 16)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        // Deliver until the commit is queued from 1 to 2, then lose it.
        var guardSteps = 0
        while guardSteps < 100 {
            guardSteps += 1
            if let q = net.busyQueues.first(where: { net.queues[$0].first?.message.kind == .commit }) {
                net.drop(queue: q)
                break
            }
            guard let q = net.busyQueues.first else { break }
            net.deliver(queue: q)
        }
        net.run()
        for _ in 0..<40 {
            net.advance(by: 500_000_000)
            net.run()
        }
        #expect(net.destinationKeys[id] == nil)
        let n2 = net.engine(NodeID(2))
        #expect(n2.counters.abortsSent >= 1)
        #expect(n2.counters.unitsDiscarded >= 2)
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 && $0.activeRecords == 0 })
        #expect(net.checker.violations.isEmpty)
    }
}

/// Every kind of invalid input is refused with a typed, counted reason and changes nothing.
@Suite("Bad input")
struct BadInputTests {
    func setup() throws -> (ManualNetwork, Message) {
        let net = try ManualNetwork(topology: ProtocolScenarioTests.line(3), configuration: ProtocolScenarioTests.config())
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: 16) }
        var m = Message(kind: .reserve, from: NodeID(1), to: NodeID(2))
        m.incarnation = 1
        m.peerIncarnation = 1
        m.sequence = 1_000
        m.request = RequestID(source: NodeID(1), serial: 77)
        m.path = try Path([NodeID(1), NodeID(2), NodeID(3)])
        m.size = 1
        m.time = 1_000_000_000
        try m.units.append(0)
        return (net, m)
    }

    func expectRefused(_ mutate: (inout Message) throws -> Void, _ reason: InputRejection) throws {
        let (net, base) = try setup()
        var m = base
        try mutate(&m)
        let n2 = net.engine(NodeID(2))
        let held = n2.heldUnits
        let before = n2.counters.rejected(reason)
        net.inject(m)
        #expect(n2.counters.rejected(reason) == before + 1, "expected \(reason)")
        #expect(n2.heldUnits == held)
        #expect(n2.activeRecords == 0)
        #expect(net.inFlightCount == 0)
    }

    @Test("a valid reserve is accepted (control)")
    func control() throws {
        let (net, m) = try setup()
        net.inject(m)
        #expect(net.engine(NodeID(2)).activeRecords == 1)
        #expect(net.engine(NodeID(2)).counters.totalRejections == 0)
    }

    @Test func loop() throws {
        try expectRefused({ $0.path.nodes[2] = 1 }, .badPath)
    }
    @Test func notOnPath() throws {
        try expectRefused({ $0.path = try Path([NodeID(3), NodeID(1)]) }, .notOnPath)
    }
    @Test func wrongHop() throws {
        try expectRefused({ $0.hop = 1 }, .wrongHop)
    }
    @Test func tooLarge() throws {
        try expectRefused({ $0.size = 200 }, .tooLarge)
    }
    @Test func unitCount() throws {
        try expectRefused({ $0.size = 2 }, .unitCountMismatch)
    }
    @Test func outsideWindow() throws {
        try expectRefused({ $0.units = UnitRuns(); try $0.units.append(1_000_000) }, .unitsOutsideWindow)
    }
    @Test func staleSequence() throws {
        try expectRefused({ $0.sequence = 0 }, .duplicateOrStale)
    }
    @Test func wrongIncarnation() throws {
        try expectRefused({ $0.peerIncarnation = 7 }, .wrongIncarnation)
    }
    @Test func unknownNeighbour() throws {
        try expectRefused({ $0.from = NodeID(9) }, .unknownNeighbour)
    }
    @Test func unknownRequest() throws {
        let (net, base) = try setup()
        var m = base
        m.kind = .confirm
        m.hop = 1
        let before = net.engine(NodeID(2)).counters.rejected(.unknownRequest)
        net.inject(m)
        #expect(net.engine(NodeID(2)).counters.rejected(.unknownRequest) == before + 1)
    }

    @Test("a duplicate reserve (replayed with a higher sequence) is refused and holds nothing more")
    func duplicate() throws {
        let (net, m) = try setup()
        net.inject(m)
        let n2 = net.engine(NodeID(2))
        let held = n2.heldUnits
        var again = m
        again.sequence += 1
        net.inject(again)
        #expect(n2.counters.rejected(.duplicateRequest) == 1)
        #expect(n2.heldUnits == held)
        #expect(n2.activeRecords == 1)
    }
}

/// Fine-grained competition: a committed request that will complete late yields its delivered units.
@Suite("Yield at commit")
struct YieldTests {
    /// 1 - 2 - 3: link 1-2 has delivered key; link 2-3 has none yet and is slow, so a request 1 → 3
    /// completes late. A request 1 → 2 arriving next can complete at once only if the first yields.
    func run(yield: Bool) throws -> (ManualNetwork, RequestID, RequestID) {
        let t = try Topology(
            nodes: [NodeID(1), NodeID(2), NodeID(3)],
            links: [
                TopologyLink(a: NodeID(1), b: NodeID(2), unitsPerSecond: 100, delay: 1_000_000),
                TopologyLink(a: NodeID(2), b: NodeID(3), unitsPerSecond: 20, delay: 1_000_000),
            ])
        var c = ProtocolScenarioTests.config()
        c.ownershipBlock = 64
        c.latencyBudget = 1_000_000_000
        c.reroutes = 0
        c.yieldAtCommit = yield
        let net = try ManualNetwork(topology: t, configuration: c)
        net.run()
        // Node 1 owns units 0…63 of link 1-2; 4 are delivered.
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 4)
        let late = try net.request(from: NodeID(1), to: NodeID(3), units: 4)
        net.run()
        let now = try net.request(from: NodeID(1), to: NodeID(2), units: 4)
        net.run()
        return (net, late, now)
    }

    @Test("with yield, the one-hop request completes at once and the late one still completes")
    func yields() throws {
        let (net, late, now) = try run(yield: true)
        #expect(net.sourceKeys[now] != nil && net.sourceKeys[now] == net.destinationKeys[now])
        #expect(net.engine(NodeID(1)).counters.unitsYielded == 4)
        #expect(net.sourceKeys[late] == nil)
        // Key arrives: the late request completes with identical keys at both ends.
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 8)
        net.supplyKey(link: LinkID(NodeID(2), NodeID(3)), count: 8)
        net.run()
        #expect(net.sourceKeys[late] != nil && net.sourceKeys[late] == net.destinationKeys[late])
        #expect(net.checker.violations.isEmpty)
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 && $0.counters.unitsDiscarded == 0 })
    }

    @Test("without yield, the one-hop request must wait for future key")
    func noYield() throws {
        let (net, _, now) = try run(yield: false)
        #expect(net.sourceKeys[now] == nil)
        #expect(net.engine(NodeID(1)).counters.unitsYielded == 0)
    }
}

/// Admission rules: detours take only spare key; no future key before a link's delivery pattern is known.
@Suite("Admission")
struct AdmissionTests {
    /// Square 1-2-3 (direct, 2 hops) and 1-4-5-3 (detour, 3 hops). Link 2-3 is too slow to deliver a unit
    /// within the 2 s budget; the detour's links deliver one unit a second.
    /// The detour's links make one unit a second, so its first future unit is about 1 s away: a test that
    /// wants it reserved passes a latency `budget` above that.
    func detourNetwork(
        detourBudget: Nanoseconds?, detourKey: Int, budget: Nanoseconds? = nil
    ) throws -> (ManualNetwork, RequestID) {
        func l(_ a: UInt32, _ b: UInt32, _ rate: Double) -> TopologyLink {
            TopologyLink(a: NodeID(a), b: NodeID(b), unitsPerSecond: rate, delay: 1_000_000)
        }
        let t = try Topology(
            nodes: (1...5).map { NodeID($0) },
            links: [l(1, 2, 1000), l(2, 3, 0.1), l(1, 4, 1), l(4, 5, 1), l(5, 3, 1)])
        var c = ProtocolScenarioTests.config()
        c.keyAwareRouting = false
        c.detourBudget = detourBudget
        if let budget { c.latencyBudget = budget }
        let net = try ManualNetwork(topology: t, configuration: c)
        net.run()
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 16)
        if detourKey > 0 {
            for link in [LinkID(NodeID(1), NodeID(4)), LinkID(NodeID(4), NodeID(5)), LinkID(NodeID(5), NodeID(3))] {
                net.supplyKey(link: link, count: detourKey)
            }
        }
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 1)
        net.run()
        return (net, id)
    }

    @Test("detour admission: a detour may not reserve future key beyond the detour budget")
    func detourRefusesFutureKey() throws {
        let (net, id) = try detourNetwork(detourBudget: 250_000_000, detourKey: 0)
        #expect(net.failures[id] == .noKeyWithinBudget)
        #expect(net.engine(NodeID(1)).counters.detourBranches == 1)
        #expect(net.engines.allSatisfy { $0.heldUnits == 0 && $0.activeRecords == 0 })
    }

    @Test("detour admission off: the detour reserves future key within the whole budget")
    func detourUnrestricted() throws {
        let (net, id) = try detourNetwork(detourBudget: nil, detourKey: 0, budget: 2_000_000_000)
        #expect(net.failures[id] == nil)
        let accepted = net.events.first { $0.event.kind == .requestAccepted && $0.event.request == id }
        #expect(accepted?.event.path.description == "1>4>5>3")
        #expect(net.engine(NodeID(1)).counters.detourBranches == 0)
    }

    @Test("detour admission: a detour whose key is already delivered is taken at once")
    func detourUsesSpareKey() throws {
        for budget: Nanoseconds in [0, 250_000_000] {
            let (net, id) = try detourNetwork(detourBudget: budget, detourKey: 4)
            #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
            let accepted = net.events.first { $0.event.kind == .requestAccepted && $0.event.request == id }
            #expect(accepted?.event.path.description == "1>4>5>3")
            #expect(net.checker.violations.isEmpty)
        }
    }

    @Test("until a link's delivery pattern is known, only delivered key is admitted when nominal-rate ETAs are off")
    func noFutureKeyBeforePattern() throws {
        for nominal in [true, false] {
            let net = try ProtocolScenarioTests().network(3, key: 0) { $0.nominalRateBeforePattern = nominal; $0.reroutes = 0 }
            let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
            net.run()
            if nominal {
                #expect(net.failures[id] == nil)
                #expect(net.engines.reduce(0) { $0 + $1.heldUnits } > 0)
            } else {
                #expect(net.failures[id] == .noKeyWithinBudget)
                #expect(net.engines.allSatisfy { $0.heldUnits == 0 && $0.activeRecords == 0 })
            }
        }
    }
}

/// Link state: one announcement per link (its low end), sent when the free level changes band or the
/// refresh interval passes.
@Suite("Link-state announcements")
struct LinkStateTests {
    /// (origin, link) of the link-state messages waiting in the queues; the queues are then drained.
    func originations(_ net: ManualNetwork) -> [String] {
        var seen: [String] = []
        for q in net.queues {
            for f in q where f.message.kind == .linkState && f.message.hop == UInt8(Path.maxHops) {
                seen.append("\(f.message.request.source.rawValue):\(f.message.subject.low.rawValue)-\(f.message.subject.high.rawValue)")
            }
        }
        net.run()
        return seen.sorted()
    }

    @Test("only the low end announces a link; a band change is announced at the next check, otherwise every refresh")
    func triggered() throws {
        var c = ProtocolScenarioTests.config()
        c.linkStateInterval = 2_000_000_000
        c.linkStateCheckInterval = 100_000_000
        c.linkStateHold = 0  // announcements leave at once (the hold: LinkStateHoldTests)
        let net = try ManualNetwork(topology: ProtocolScenarioTests.line(3), configuration: c)
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: 10) }
        net.advance(by: 100_000_000)
        // Each link once, by its low end (node 1 for 1-2, node 2 for 2-3), to every neighbour.
        #expect(Set(originations(net)) == ["1:1-2", "2:2-3"])
        net.advance(by: 100_000_000)
        #expect(originations(net).isEmpty)
        // 10 → 20 free units on 1-2: band "under 16" → "more".
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 10)
        net.advance(by: 100_000_000)
        #expect(Set(originations(net)) == ["1:1-2"])
        // More key within the same band: nothing until the refresh is due.
        net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 10)
        net.advance(by: 100_000_000)
        #expect(originations(net).isEmpty)
        net.advance(by: 2_000_000_000)
        #expect(Set(originations(net)) == ["1:1-2", "2:2-3"])
    }

    @Test("a flood travels linkStateRadius hops and no further")
    func radius() throws {
        var c = ProtocolScenarioTests.config()
        c.linkStateInterval = 2_000_000_000
        c.linkStateRadius = 2
        c.linkStateHold = 0  // announcements leave at once (the hold: LinkStateHoldTests)
        let net = try ManualNetwork(topology: ProtocolScenarioTests.line(5), configuration: c)
        net.run()
        let link = LinkID(NodeID(1), NodeID(2))
        net.supplyKey(link: link, count: 20)
        net.advance(by: 100_000_000)
        net.run()
        let li = try #require(net.topology.index(of: link))
        // Node 1 announces link 1-2: node 2 is one hop away, node 3 two, node 4 three.
        #expect(net.engine(NodeID(2)).router.knownLevel(link: li) == 20)
        #expect(net.engine(NodeID(3)).router.knownLevel(link: li) == 20)
        #expect(net.engine(NodeID(4)).router.knownLevel(link: li) == 0)
        #expect(net.engine(NodeID(5)).router.knownLevel(link: li) == 0)
    }
}

/// Adaptive multipath: one branch when the best path has the key by the source's knowledge, the other
/// candidates only when it fails.
@Suite("Adaptive multipath")
struct AdaptiveMultipathTests {
    /// Ring 1-2-3-4-1 (link 4-1 slower, so 1>2>3 is the best path to 3). Node 1 learns from node 2's
    /// announcement that link 2-3 has 20 free units; node 2 then uses them all for its own requests to 3
    /// before the next announcement, so node 1's knowledge is stale and the 1>2>3 branch is refused.
    func ring(adaptive: Bool) throws -> (ManualNetwork, RequestID, launchedAtOnce: UInt64) {
        func l(_ a: UInt32, _ b: UInt32, delay: UInt64 = 1_000_000) -> TopologyLink {
            TopologyLink(a: NodeID(a), b: NodeID(b), unitsPerSecond: 1000, delay: delay)
        }
        let t = try Topology(
            nodes: (1...4).map { NodeID($0) }, links: [l(1, 2), l(2, 3), l(3, 4), l(4, 1, delay: 3_000_000)])
        var c = ProtocolScenarioTests.config()
        c.paths = 2
        c.adaptiveMultipath = adaptive
        c.nominalRateBeforePattern = false
        c.linkStateInterval = 10_000_000_000
        c.linkStateCheckInterval = 100_000_000
        // Node 1 must hear node 2's announcement at once: with a hold it rode only on node 2's detour
        // reserves toward node 1, which the source now skips (docs/PROTOCOL.md §10.1).
        c.linkStateHold = 0
        let net = try ManualNetwork(topology: t, configuration: c)
        net.run()
        for link in [LinkID(NodeID(1), NodeID(2)), LinkID(NodeID(3), NodeID(4)), LinkID(NodeID(1), NodeID(4))] {
            net.supplyKey(link: link, count: 20)
        }
        net.supplyKey(link: LinkID(NodeID(2), NodeID(3)), count: 20)
        net.advance(by: 100_000_000)
        net.run()
        for units in [8, 8, 4] { _ = try net.request(from: NodeID(2), to: NodeID(3), units: units) }
        net.run()
        #expect(net.engine(NodeID(2)).pool(toward: NodeID(3))?.availableDelivered == 0)
        let before = net.engine(NodeID(1)).counters.branchesLaunched
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 1)
        let launched = net.engine(NodeID(1)).counters.branchesLaunched - before
        net.run()
        return (net, id, launched)
    }

    @Test("adaptive: one branch first, the other after it fails; the request still completes")
    func adaptive() throws {
        let (net, id, launched) = try ring(adaptive: true)
        #expect(launched == 1)
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        let accepted = net.events.first { $0.event.kind == .requestAccepted && $0.event.request == id }
        #expect(accepted?.event.path.description == "1>4>3")
        #expect(net.engine(NodeID(1)).counters.branchesLaunched == 2)
        #expect(net.checker.violations.isEmpty)
    }

    @Test("not adaptive: every candidate at once")
    func allAtOnce() throws {
        let (net, id, launched) = try ring(adaptive: false)
        #expect(launched == 2)
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
    }
}
