@testable import AKRPEngine
import AKRPSimulation
import Testing

/// Invariant 1 from the bytes: the checker recomputes every delivered key from the device streams
/// instead of taking the engine's consumption reports for it.
@Suite("Invariant 1 from the key streams' bytes")
struct KeyBytesCheckTests {
    /// One 4-unit request over a 4-hop line; returns the network after it ran.
    static func oneRequest(checkingKeyBytes: Bool, configure: (ManualNetwork) -> Void = { _ in }) throws
        -> (ManualNetwork, RequestID)
    {
        let net = try ManualNetwork(
            topology: SmallNetwork.line(5), configuration: SmallNetwork.configuration(),
            checkingKeyBytes: checkingKeyBytes)
        configure(net)
        net.run()
        for l in net.topology.links { net.supplyKey(link: l.id, count: 16) }
        let id = try net.request(from: NodeID(1), to: NodeID(5), units: 4)
        net.run()
        net.advance(by: 1_000_000_000)
        net.run()
        net.checker.checkQuiescent(engines: net.engines, faultFree: true, time: net.now)
        return (net, id)
    }

    @Test("a correct engine passes: both keys are the stream bytes of the first hop's units")
    func correctEngine() throws {
        let (net, id) = try Self.oneRequest(checkingKeyBytes: true)
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(net.checker.violations.isEmpty, "\(net.checker.violations)")
        #expect(net.checker.keysCheckedAgainstStreams == 2)
    }

    @Test("chaos seeds compare their keys with the streams")
    func chaosSeedsCheckBytes() {
        var checked = 0
        for seed in UInt64(1)...UInt64(5) {
            let r = ChaosRun(seed: seed).run()
            #expect(r.violations.isEmpty, "seed \(seed): \(r.violations.first.map { "\($0)" } ?? "")")
            checked += r.keysCheckedAgainstStreams
        }
        // Every delivered key (source and destination) is compared.
        #expect(checked > 100)
    }

    @Test("a key made of other stream bytes than its units is caught")
    func foreignBytes() throws {
        let streams = LinkKeyStreams(seed: 7, links: [LinkID(NodeID(1), NodeID(2))], unitSize: 32)
        let checker = InvariantChecker(keyStreams: streams)
        let outbox = Outbox(messageCapacity: 4, eventCapacity: 4, arenaBytes: 256)
        let link = LinkID(NodeID(1), NodeID(2))
        let request = RequestID(source: NodeID(1), serial: 1)
        var consumed = EngineEvent(kind: .unitsConsumed)
        consumed.link = link
        consumed.request = request
        try consumed.units.append(3)
        checker.observe(consumed, outbox: outbox, node: NodeID(1), time: 0)
        // The key holds the bytes of unit 4, not of unit 3 that was reported.
        var named = UnitRuns()
        try named.append(4)
        let wrong = try #require(streams.bytes(link: link, units: named))
        let (offset, buffer) = try #require(outbox.reserveBytes(wrong.count))
        buffer.copyBytes(from: wrong)
        var key = EngineEvent(kind: .keyDelivered)
        key.request = request
        key.path = try Path([NodeID(1), NodeID(2)])
        key.payloadOffset = offset
        key.payloadLength = wrong.count
        checker.observe(key, outbox: outbox, node: NodeID(1), time: 1)
        #expect(checker.violations.count == 1)
        #expect(checker.violations.first?.invariant == 1)
        // The same unit as a frame's authentication key: its bytes are already in a key.
        checker.observeAuthenticationKey(wrong, link: link, index: 4, time: 2)
        #expect(checker.violations.count == 2)
        #expect(checker.violations.last?.detail.contains("authentication") == true)
    }

    #if AKRP_MUTATIONS
    @Test("an engine that consumes unit i and reports unit j: caught from the bytes, not from the reports")
    func misreportingEngine() throws {
        let wrong: (ManualNetwork) -> Void = { net in for e in net.engines { e.mutation = .reportsOtherUnits } }
        let (reports, reportsID) = try Self.oneRequest(checkingKeyBytes: false, configure: wrong)
        let (bytes, bytesID) = try Self.oneRequest(checkingKeyBytes: true, configure: wrong)
        // The request went through in both runs, keys agree: only the reported units are wrong.
        #expect(reports.sourceKeys[reportsID] != nil && reports.sourceKeys[reportsID] == reports.destinationKeys[reportsID])
        #expect(bytes.sourceKeys[bytesID] == reports.sourceKeys[reportsID])
        #expect(reports.checker.unitsConsumed == 4 * 4 * 2)
        // The old check, fed with the engine's word, sees nothing wrong.
        #expect(reports.checker.violations.isEmpty, "\(reports.checker.violations)")
        // The byte-level check sees both keys made of other bytes than the units named.
        #expect(bytes.checker.violations.count == 2, "\(bytes.checker.violations)")
        #expect(bytes.checker.violations.allSatisfy { $0.invariant == 1 && $0.detail.contains("not the stream bytes") })
    }

    @Test("the same wrong engine over chaos seeds: every seed that delivers is caught, only from the bytes")
    func misreportingEngineChaos() {
        var caught = 0
        for seed in UInt64(1)...UInt64(8) {
            let old = ChaosRun(seed: seed, checkingKeyBytes: false)
            old.mutation = .reportsOtherUnits
            let a = old.run()
            let new = ChaosRun(seed: seed)
            new.mutation = .reportsOtherUnits
            let b = new.run()
            #expect(a.violations.isEmpty, "seed \(seed), reports only: \(a.violations.first.map { "\($0)" } ?? "")")
            if b.deliveredBothEnds > 0 || b.unitsConsumed > 0 {
                #expect(b.violations.contains { $0.invariant == 1 }, "seed \(seed) not caught from the bytes")
                caught += 1
            }
        }
        #expect(caught >= 6)
    }
    #endif
}
