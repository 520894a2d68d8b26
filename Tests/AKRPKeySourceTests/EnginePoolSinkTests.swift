import AKRPEngine
import AKRPKeySource
import AKRPSimulation
import Testing

/// The engine's pools fed from key sources: a simulated device pair drives a real link.
@Suite struct EnginePoolSinkTests {
    func network() throws -> ManualNetwork {
        let t = try Topology(
            nodes: [NodeID(1), NodeID(2)],
            links: [TopologyLink(a: NodeID(1), b: NodeID(2), unitsPerSecond: 1000, delay: 1_000_000)])
        var c = EngineConfiguration()
        c.poolCapacity = 256
        c.linkStateInterval = 0
        let net = try ManualNetwork(topology: t, configuration: c)
        net.run()
        return net
    }

    @Test func simulatedDevicesFeedBothPoolsAndAKeyIsDelivered() throws {
        let net = try network()
        let link = LinkID(NodeID(1), NodeID(2))
        let pair = try SimulatedDevicePair(link: link, seed: 7, bitsPerSecond: 256_000)
        let at: Nanoseconds = 100_000_000  // 100 units produced
        for (node, peer) in [(NodeID(1), NodeID(2)), (NodeID(2), NodeID(1))] {
            let device = pair.end(at: node)
            var delivered = 0
            var failure: KeySourceError?
            net.perform(at: node) { engine, outbox in
                var sink = EnginePoolSink(engine: engine, peer: peer, outbox: outbox, now: at)
                do throws(KeySourceError) { delivered = try device.deliver(at: at, into: &sink) } catch { failure = error }
            }
            #expect(failure == nil)
            #expect(delivered == 100)
            #expect(net.engine(node).pool(toward: peer)?.tail == 100)
        }
        let id = try net.request(from: NodeID(1), to: NodeID(2), units: 4)
        net.run()
        let s = try #require(net.sourceKeys[id])
        #expect(s == net.destinationKeys[id])
        // A one-hop key is the link's own units: the bytes the devices produced.
        var units: [UInt64] = []
        for (_, e) in net.events where e.kind == .unitsConsumed && e.request == id {
            for r in 0..<Int(e.units.runCount) { units += Array(e.units[r].start..<e.units[r].end) }
        }
        let first = try #require(units.first)
        var expected = [UInt8](repeating: 0, count: 4 * 32)
        expected.withUnsafeMutableBytes { pair.stream.fill(firstIndex: first, unitCount: 4, unitSize: 32, into: $0) }
        #expect(units.count == 8)
        #expect(s == expected)
    }

    @Test func backpressureAndLostUnitsNeverReachTheRequests() throws {
        let net = try network()
        let link = LinkID(NodeID(1), NodeID(2))
        // A device that keeps only 50 units: after 2 s (2000 produced) the older ones are lost.
        let pair = try SimulatedDevicePair(link: link, seed: 9, bitsPerSecond: 256_000, deviceBufferUnits: 50)
        let device = pair.end(at: NodeID(1))
        var counts: [Int] = []
        var expectedNext: UInt64?
        net.perform(at: NodeID(1)) { engine, outbox in
            var sink = EnginePoolSink(engine: engine, peer: NodeID(2), outbox: outbox, now: 2_000_000_000)
            counts.append((try? device.deliver(at: 2_000_000_000, into: &sink)) ?? -1)
            expectedNext = sink.nextExpectedIndex
        }
        let pool = try #require(net.engine(NodeID(1)).pool(toward: NodeID(2)))
        #expect(counts == [50])
        #expect(expectedNext == 2000)
        // The pool holds exactly the newest 50 units, never more than its room.
        #expect(pool.tail == 2000 && pool.availableDelivered == 50)
        var sink = EnginePoolSink(engine: net.engine(NodeID(1)), peer: NodeID(2), outbox: net.outbox, now: 0)
        let refused = [UInt8](repeating: 1, count: 32).withUnsafeBytes { b -> KeySinkError? in
            do throws(KeySinkError) {
                try sink.accept(link: link, firstIndex: 5, unitCount: 1, unitSize: 32, bytes: b)
            } catch { return error }
            return nil
        }
        #expect(refused == .notContiguous(expected: 2000, got: 5))
        #expect(throws: KeySinkError.wrongLink(expected: link, got: LinkID(NodeID(1), NodeID(3)))) {
            try sink.discard(link: LinkID(NodeID(1), NodeID(3)), units: 2000..<2010)
        }
    }
}
