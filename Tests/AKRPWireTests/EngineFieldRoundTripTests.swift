import AKRPEngine
import AKRPSimulation
import AKRPWire
import Testing

/// The codec carries every field the engine reads — checked in two ways that a codec dropping a field
/// cannot pass: a hand-built message per kind with every read field non-zero, and networks of real
/// engines whose every message goes through seal → open → decode before the receiver sees it.
struct EngineFieldRoundTripTests {
    // MARK: one message per kind, every read field non-zero

    /// A valid message of `kind` from node 2 to node 3 with every field its receiver reads set to a
    /// non-zero value, and its payload.
    static func messageWithEveryReadField(_ kind: MessageKind) throws -> (Message, [UInt8]) {
        var m = Message(kind: kind, from: NodeID(2), to: NodeID(3))
        m.sequence = 0x0102_0304_0506_0708
        m.incarnation = 0xA1A2_A3A4_A5A6_A7A8
        m.peerIncarnation = 0xB1B2_B3B4_B5B6_B7B8
        m.request = RequestID(source: NodeID(1), serial: 0x0BAD_F00D)
        m.branch = 3
        m.hop = kind == .share ? 2 : 1
        m.path = try Path([NodeID(1), NodeID(2), NodeID(3), NodeID(4), NodeID(5)])
        m.size = 4
        m.time = 7_000_000_123
        m.index = 0x0000_0001_0000_0140
        try m.units.append(run: UnitRun(start: 0x100, count: 3))
        try m.units.append(run: UnitRun(start: 0x1_0000_0105, count: 1))
        m.shareMask = 0b110
        switch kind {
        case .abortReply: m.reason = AbortOutcome.committed.rawValue
        case .commit, .delivered: m.reason = Message.noticeAwaited
        default: m.reason = FailReason.noRoute.rawValue
        }
        var payload: [UInt8] = []
        if kind == .commit || kind == .share {
            payload = [0x10, 0x32, 0x54, 0x76, 0x98]
            m.payloadLength = UInt16(payload.count)
        }
        if kind == .linkState {
            m.subject = LinkID(NodeID(2), NodeID(3))
            m.request = RequestID(source: NodeID(3), serial: 0)
            m.hop = 9
            m.rate = 250
            m.serial = 0x8000_0001
        }
        return (m, payload)
    }

    @Test("every field the engine reads survives seal → open, non-zero", arguments: MessageKind.allCases)
    func everyReadFieldSurvives(_ kind: MessageKind) throws {
        let (m, payload) = try Self.messageWithEveryReadField(kind)
        let read = EngineField.read(by: kind)
        for field in read { #expect(field.isSet(in: m), "test message: \(kind).\(field) is zero") }
        var sealer = FrameSealer(from: m.from, to: m.to, firstSequence: m.sequence)
        var verifier = FrameVerifier(from: m.from, to: m.to, firstSequence: m.sequence)
        var send = CountingKeySupply(seed: 9)
        var receive = CountingKeySupply(seed: 9)
        let frame = try seal(m, payload: payload, sealer: &sealer, keys: &send)
        let (decoded, decodedPayload) = try open(frame, verifier: &verifier, keys: &receive)
        for field in read { #expect(field.isSet(in: decoded.message), "\(kind).\(field) lost on the wire") }
        #expect(EngineField.engineView(of: decoded.message) == EngineField.engineView(of: m))
        #expect(decodedPayload == payload)
    }

    // MARK: real engines, every message over the wire

    static func line(_ n: Int, rate: Double = 1000) -> Topology { SmallNetwork.line(n, rate: rate) }

    static func configuration() -> EngineConfiguration { SmallNetwork.configuration() }

    /// A protocol scenario on a small network: builds its network and drives it through the loop.
    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var build: @Sendable () throws -> ManualNetwork
        var drive: @Sendable (WireLoop) throws -> Void
        var testDescription: String { name }

        /// Drives the scenario, then lets the `delivered` notices still waiting for company
        /// (`deliveredHold`) travel alone, hop by hop.
        func play(_ loop: WireLoop) throws {
            try drive(loop)
            for _ in 0..<16 where loop.net.engines.contains(where: { e in
                loop.net.topology.nodes.contains { e.heldMessages(toward: $0) > 0 }
            }) {
                try loop.advance(by: loop.net.configuration.deliveredHold)
                try loop.run()
            }
        }
    }

    static func network(
        _ topology: Topology, key: Int, configure: (inout EngineConfiguration) -> Void = { _ in }
    ) throws -> ManualNetwork {
        var c = configuration()
        configure(&c)
        let net = try ManualNetwork(topology: topology, configuration: c)
        for l in net.topology.links where key > 0 { net.supplyKey(link: l.id, count: key) }
        return net
    }

    /// Ring 1-2-3-4-1, two paths per request; key on the links listed (as node pairs).
    /// `rate34` and `delay34` are the key rate and delay of link 3-4 (the others: 100 units/s, 1 ms).
    static func ring(
        keyOn keyed: [(UInt32, UInt32)], rate34: Double = 100, delay34: UInt64 = 1_000_000
    ) throws -> ManualNetwork {
        func l(_ a: UInt32, _ b: UInt32) -> TopologyLink {
            let is34 = a == 3 && b == 4
            return TopologyLink(a: NodeID(a), b: NodeID(b), unitsPerSecond: is34 ? rate34 : 100, delay: is34 ? delay34 : 1_000_000)
        }
        let ring = try Topology(nodes: (1...4).map { NodeID($0) }, links: [l(1, 2), l(2, 3), l(3, 4), l(4, 1)])
        let net = try network(ring, key: 0) { $0.paths = 2 }
        for (a, b) in keyed { net.supplyKey(link: LinkID(NodeID(a), NodeID(b)), count: 16) }
        return net
    }

    /// Delivers messages until a commit is queued, loses it, then delivers the rest.
    static func dropFirstCommit(_ loop: WireLoop) throws {
        var steps = 0
        while steps < 1000, let q = loop.net.busyQueues.first {
            steps += 1
            if let c = loop.net.busyQueues.first(where: { loop.net.queues[$0].first?.message.kind == .commit }) {
                try loop.drop(queue: c)
                break
            }
            try loop.deliver(queue: q)
        }
        try loop.run()
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "4-hop request a client waits for (reserve, confirm, commit, share, delivered; flagged)") {
            try network(line(5), key: 32)
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(5), units: 3, awaitingConfirmation: true)
            try loop.run()
        },
        Scenario(name: "multipath: the losing branch is released") {
            func l(_ a: UInt32, _ b: UInt32) -> TopologyLink {
                TopologyLink(a: NodeID(a), b: NodeID(b), unitsPerSecond: 100, delay: 1_000_000)
            }
            let ring = try Topology(nodes: (1...4).map { NodeID($0) }, links: [l(1, 2), l(2, 3), l(3, 4), l(4, 1)])
            let net = try network(ring, key: 0) { $0.paths = 2 }
            for link in [LinkID(NodeID(1), NodeID(2)), LinkID(NodeID(2), NodeID(3)), LinkID(NodeID(3), NodeID(4))] {
                net.supplyKey(link: link, count: 16)
            }
            return net
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 2)
            try loop.run()
        },
        Scenario(name: "multipath: branch 1 wins (commit, share, delivered of branch 1)") {
            try ring(keyOn: [(1, 2), (1, 4), (3, 4)])
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 2)
            try loop.run()
            for l in loop.net.topology.links { loop.net.supplyKey(link: l.id, count: 16) }
            try loop.run()
        },
        Scenario(name: "multipath: branch 1 wins on future key (share of branch 1)") {
            // The router ranks 1>4>3 second (long delay) but its key comes faster: branch 1 wins, and
            // relay 4 has no key on 4-3 at commit, so it sends its share later.
            try ring(keyOn: [(1, 2), (1, 4)], rate34: 400, delay34: 50_000_000)
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 2)
            try loop.run()
            for l in loop.net.topology.links { loop.net.supplyKey(link: l.id, count: 16) }
            try loop.run()
        },
        Scenario(name: "multipath: branch 1 cannot get key in time (fail of branch 1)") {
            try ring(keyOn: [(1, 2), (2, 3), (1, 4)], rate34: 1)
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 4)
            try loop.run()
        },
        Scenario(name: "multipath: the commit of branch 1 is lost (abort, abortReply of branch 1)") {
            try ring(keyOn: [(1, 2), (1, 4), (3, 4)])
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 2)
            try dropFirstCommit(loop)
            for _ in 0..<40 { try loop.advance(by: 500_000_000) }
        },
        Scenario(name: "full request table: fail, re-routed branch fails too") {
            try network(line(3), key: 64) { $0.recordCapacity = 1; $0.reroutes = 2 }
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 1)
            _ = try loop.net.request(from: NodeID(3), to: NodeID(1), units: 1)
            try loop.run()
        },
        Scenario(name: "lost commit: abort, abortReply") {
            try network(line(3), key: 16)
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 2)
            try dropFirstCommit(loop)
            for _ in 0..<40 { try loop.advance(by: 500_000_000) }
        },
        Scenario(name: "restart: hello, resync from a later index, then a new request") {
            try network(line(3), key: 4)
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 6)
            try loop.run()
            try loop.net.restart(NodeID(2), incarnation: 2)
            try loop.run()
            for _ in 0..<10 { try loop.advance(by: 500_000_000) }
            for l in loop.net.topology.links { loop.net.supplyKey(link: l.id, count: 16) }
            try loop.run()
            _ = try loop.net.request(from: NodeID(3), to: NodeID(1), units: 2)
            try loop.run()
        },
        Scenario(name: "link-state flooding") {
            try network(line(4), key: 8) { $0.linkStateInterval = 200_000_000 }
        } drive: { loop in
            try loop.run()
            for _ in 0..<3 { try loop.advance(by: 250_000_000) }
            _ = try loop.net.request(from: NodeID(1), to: NodeID(4), units: 2)
            try loop.run()
        },
        Scenario(name: "yield at commit: the commit carries moved units") {
            let t = try Topology(
                nodes: [NodeID(1), NodeID(2), NodeID(3)],
                links: [
                    TopologyLink(a: NodeID(1), b: NodeID(2), unitsPerSecond: 100, delay: 1_000_000),
                    TopologyLink(a: NodeID(2), b: NodeID(3), unitsPerSecond: 20, delay: 1_000_000),
                ])
            let net = try network(t, key: 0) {
                $0.ownershipBlock = 64
                $0.latencyBudget = 1_000_000_000
                $0.reroutes = 0
                $0.yieldAtCommit = true
            }
            net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 4)
            return net
        } drive: { loop in
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(3), units: 4)
            try loop.run()
            _ = try loop.net.request(from: NodeID(1), to: NodeID(2), units: 4)
            try loop.run()
            loop.net.supplyKey(link: LinkID(NodeID(1), NodeID(2)), count: 8)
            loop.net.supplyKey(link: LinkID(NodeID(2), NodeID(3)), count: 8)
            try loop.run()
        },
    ]

    /// What a run leaves observable: keys, failures, events, counters, and every message sent
    /// restricted to the fields its receiver reads.
    struct Outcome: Equatable {
        var sourceKeys: [RequestID: [UInt8]]
        var destinationKeys: [RequestID: [UInt8]]
        var failures: [RequestID: FailReason]
        var eventNodes: [NodeID]
        var events: [EngineEvent]
        var counters: [EngineCounters]
        var sent: [Message]

        init(_ loop: WireLoop) {
            sourceKeys = loop.net.sourceKeys
            destinationKeys = loop.net.destinationKeys
            failures = loop.net.failures
            eventNodes = loop.net.events.map(\.node)
            events = loop.net.events.map(\.event)
            counters = loop.net.engines.map(\.counters)
            sent = loop.sent.map(EngineField.engineView(of:))
        }
    }

    /// Each scenario runs twice, messages handed over as values and over the wire. Every message must
    /// decode to its original on the fields its receiver reads, and the two runs must be identical in
    /// everything observable — which also catches a field the engine reads that `EngineField` forgot.
    @Test("engines behave the same with every message sealed, opened and decoded", arguments: scenarios)
    func scenarioOverTheWire(_ scenario: Scenario) throws {
        let reference = WireLoop(try scenario.build(), throughWire: false)
        try scenario.play(reference)
        let wired = WireLoop(try scenario.build(), throughWire: true)
        try scenario.play(wired)

        #expect(wired.mismatches.isEmpty, "\(wired.mismatches.prefix(5))")
        #expect(wired.frames == wired.sent.count)
        #expect(wired.net.checker.violations.isEmpty)
        #expect(reference.net.checker.violations.isEmpty)
        let expected = Outcome(reference)
        let actual = Outcome(wired)
        #expect(actual.sent.count == expected.sent.count)
        if let i = zip(actual.sent, expected.sent).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("message \(i) differs: over the wire \(actual.sent[i]), reference \(expected.sent[i])")
        }
        #expect(actual.sourceKeys == expected.sourceKeys)
        #expect(actual.destinationKeys == expected.destinationKeys)
        #expect(actual.failures == expected.failures)
        #expect(actual.events == expected.events && actual.eventNodes == expected.eventNodes)
        #expect(actual.counters == expected.counters)
        // Not vacuous: at least one key went end to end in every scenario but the failing ones.
        #expect(!expected.sourceKeys.isEmpty || !expected.failures.isEmpty)
    }

    /// Read fields that real engines in these scenarios never set non-zero (covered by
    /// ``everyReadFieldSurvives(_:)`` instead), with the reason.
    static let neverNonZeroInScenarios: [MessageKind: Set<EngineField>] = [
        // A hello is sent at start-up, before the pools hold key: its resume index is 0.
        .hello: [.index],
    ]

    /// Together the scenarios produce every kind, and every field each kind's receiver reads is
    /// non-zero in at least one of its messages: the round trip above is checked on real values.
    @Test("the scenarios exercise every kind and every field the engine reads")
    func scenariosCoverEveryReadField() throws {
        var coverage: [MessageKind: Set<EngineField>] = [:]
        for scenario in Self.scenarios {
            let loop = WireLoop(try scenario.build(), throughWire: true)
            try scenario.play(loop)
            #expect(loop.mismatches.isEmpty, "\(scenario.name): \(loop.mismatches.prefix(5))")
            coverage.merge(loop.coverage) { $0.union($1) }
        }
        for kind in MessageKind.allCases {
            let expected = Set(EngineField.read(by: kind)).subtracting(Self.neverNonZeroInScenarios[kind] ?? [])
            let missing = expected.subtracting(coverage[kind] ?? [])
            #expect(missing.isEmpty, "\(kind): never non-zero in a scenario: \(missing.map(\.rawValue).sorted())")
        }
    }
}
