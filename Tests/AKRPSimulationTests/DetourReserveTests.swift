import AKRPEngine
import AKRPSimulation
import Testing

/// Detour admission's trunk reserve (docs/PROTOCOL.md §10.1): a detour takes delivered key only from
/// links that keep `detourReserve` of a key block free; a request on its direct path is not limited; and
/// a detour that the source's link state puts short of key is not launched.
@Suite("Detour trunk reserve")
struct DetourReserveTests {
    /// Triangle 1-2-3 with the direct link 1-3: a request 1→3 has the direct path 1>3 and the detour
    /// 1>2>3. Each link in `keyed` gets four blocks of 20 units (the engines learn 20 units per block) —
    /// 80 free units; the others none. `configure` adjusts the engines' configuration.
    static func triangle(
        keyed: [(UInt32, UInt32)], configure: (inout EngineConfiguration) -> Void
    ) throws -> ManualNetwork {
        let t = try Topology(
            nodes: [NodeID(1), NodeID(2), NodeID(3)],
            links: [(1, 2), (2, 3), (1, 3)].map {
                TopologyLink(a: NodeID($0.0), b: NodeID($0.1), unitsPerSecond: 1000, delay: 1_000_000)
            })
        var c = SmallNetwork.configuration()
        c.poolCapacity = 256
        c.nominalRateBeforePattern = false
        configure(&c)
        let net = try ManualNetwork(topology: t, configuration: c)
        net.run()
        for _ in 0..<4 {
            for (a, b) in keyed { net.supplyKey(link: LinkID(NodeID(a), NodeID(b)), count: 20) }
            net.advance(by: 10_000_000)
            net.run()
        }
        return net
    }

    /// Shortest routing: links 1-2 and 2-3 keyed, link 1-3 too when `direct`.
    static func network(reserve: Double, direct: Bool) throws -> ManualNetwork {
        try triangle(keyed: direct ? [(1, 2), (2, 3), (1, 3)] : [(1, 2), (2, 3)]) { c in
            c.keyAwareRouting = false
            c.detourReserve = reserve
        }
    }

    func path(_ net: ManualNetwork, _ id: RequestID) -> String? {
        net.events.first { $0.event.kind == .requestAccepted && $0.event.request == id }?.event.path.description
    }

    @Test("a detour takes spare delivered key while its links keep the reserve")
    func detourWithinReserve() throws {
        // 0.2 of a 20-unit block: 4 units to keep, 80 free.
        let net = try Self.network(reserve: 0.2, direct: false)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(path(net, id) == "1>2>3")
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(net.engine(NodeID(1)).counters.detourBranches == 1)
        #expect(net.checker.violations.isEmpty)
    }

    @Test("a detour is refused when a link would have to give up the reserve")
    func detourRefusedBelowReserve() throws {
        // 5 blocks to keep (100 units) with 80 free: the detour may take nothing; the direct link has no key.
        let net = try Self.network(reserve: 5, direct: false)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(net.failures[id] == .noKeyWithinBudget)
        #expect(net.sourceKeys[id] == nil)
        #expect(net.engine(NodeID(1)).pool(toward: NodeID(2))?.availableDelivered == 80)
        #expect(net.checker.violations.isEmpty)
    }

    @Test("the direct path is not limited by the reserve")
    func directPathUnlimited() throws {
        // The same reserve and 80 free units on the direct link too: the request takes 4 of them.
        let net = try Self.network(reserve: 5, direct: true)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 4)
        net.run()
        #expect(path(net, id) == "1>3")
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(net.engine(NodeID(1)).pool(toward: NodeID(3))?.availableDelivered == 76)
    }

    /// Key-aware routing with link state: node 2 announces link 2-3 to node 1 (hold 0). Link 1-2 keyed,
    /// 2-3 too when `farKey`; the direct link 1-3 none.
    static func linkStateNetwork(farKey: Bool) throws -> ManualNetwork {
        try triangle(keyed: farKey ? [(1, 2), (2, 3)] : [(1, 2)]) { c in
            c.keyAwareRouting = true
            c.linkStateInterval = 60_000_000_000
            c.linkStateCheckInterval = 10_000_000
            c.linkStateHold = 0
        }
    }

    @Test("a detour that link state puts short of key is not launched: no frame for a sure refusal")
    func detourKnownShortIsNotLaunched() throws {
        let net = try Self.linkStateNetwork(farKey: false)
        let link23 = try #require(net.topology.index(of: LinkID(NodeID(2), NodeID(3))))
        #expect(net.engine(NodeID(1)).router.knownLevel(link: link23) == 0)
        let sent = net.engine(NodeID(1)).counters.messagesSent
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        #expect(net.inFlightCount == 0)
        net.run()
        #expect(net.failures[id] == .noKeyWithinBudget)
        #expect(net.engine(NodeID(1)).counters.messagesSent == sent)
        #expect(net.engine(NodeID(1)).counters.detoursSkipped == 1)
        #expect(net.engine(NodeID(1)).pool(toward: NodeID(2))?.availableDelivered == 80)
    }

    @Test("a detour link state puts in key is launched and delivered")
    func detourKnownInKeyIsLaunched() throws {
        let net = try Self.linkStateNetwork(farKey: true)
        let link23 = try #require(net.topology.index(of: LinkID(NodeID(2), NodeID(3))))
        // Announced when the first block moved the level out of band 0; later blocks stay in its band.
        #expect(net.engine(NodeID(1)).router.knownLevel(link: link23) == 20)
        let id = try net.request(from: NodeID(1), to: NodeID(3), units: 2)
        net.run()
        #expect(path(net, id) == "1>2>3")
        #expect(net.sourceKeys[id] != nil && net.sourceKeys[id] == net.destinationKeys[id])
        #expect(net.engine(NodeID(1)).counters.detoursSkipped == 0)
        #expect(net.checker.violations.isEmpty)
    }
}
