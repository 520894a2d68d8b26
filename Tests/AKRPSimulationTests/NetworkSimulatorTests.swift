import AKRPEngine
import AKRPSimulation
import Testing

/// A small NSFNET scenario shared by the tests (short, so that `swift test` stays quick).
private func nsfnetScenario(load: Double, seconds: UInt64 = 20, recordTrace: Bool = false) -> Scenario {
    let network = SimNetwork.nsfnet()
    let demand = Demand(network: network, kind: .poisson, seed: 3)
    let bound = FlowBound(network: network, demand: demand.weightedPairs()).bitsPerSecond
    let arrivals = demand.arrivals(
        kind: .poisson, rate: load * bound / 256, duration: seconds * 1_000_000_000, bits: 256, seed: 3)
    var s = Scenario(network: network, arrivals: arrivals, duration: seconds * 1_000_000_000, seed: 3)
    s.drain = 8_000_000_000
    s.load = load
    s.boundBitsPerSecond = bound
    s.recordTrace = recordTrace
    return s
}

@Suite struct NetworkTopologyTests {
    @Test func nsfnetHas14NodesAnd21Links() throws {
        let n = SimNetwork.nsfnet()
        #expect(n.nodeCount == 14)
        #expect(n.links.count == 21)
    }

    @Test func chainGridAndWaxmanAreConnected() throws {
        let chain = SimNetwork.chain32()
        #expect(chain.nodeCount == 32)
        let grid = try SimNetwork.grid(rows: 4, columns: 5)
        #expect(grid.links.count == 4 * 4 + 3 * 5)
        let w = try SimNetwork.waxman(nodes: 300, seed: 9)
        #expect(w.nodeCount == 300)
        #expect(!w.hopDistances(from: 0).contains(-1))
        #expect(w.maxDegree <= 16)
    }

    @Test(arguments: [
        ("node a\nnode b\nlink a c rate=1000 delay=1\n", 3, "NAME_B"),
        ("node a\nnode b\nlink x b rate=1000 delay=1\n", 3, "NAME_A"),
        ("node a\nnode b\nlink a b rate=1000 delay=1 rate=5\n", 3, "rate"),
        // CRLF line ends count lines like LF ones.
        ("node a\r\nnode b\r\n\r\nlink a b rate=fast delay=1\r\n", 4, "rate"),
        ("node a\nnode b\n\nlink a b rate=fast delay=1\n", 4, "rate"),
        ("node a\nnode b\nlink a b delay=1\n", 3, "rate"),
        ("node a\nnode b\nlink a b rate=1000 delay=-2\n", 3, "delay"),
        ("node a\nnode a\n", 2, "node"),
        ("node a\nnode b\nlink a b rate=1 delay=1 colour=red\n", 3, "link"),
        ("# x\nnode a\nnode b\nlink a b rate=1 delay=1\nlink b a rate=1 delay=1\n", 5, "link"),
        ("node a\nnode b\nwire a b\n", 3, "keyword"),
        ("node a\nnode b\nlink a b rate=1 delay=1 fast\n", 3, "link"),
        // Values that would overflow nanoseconds or units are refused, not trapped on.
        ("node a\nnode b\nlink a b rate=1e300 delay=1\n", 3, "rate"),
        ("node a\nnode b\nlink a b rate=1000 delay=1e300\n", 3, "delay"),
        ("node a\nnode b\nlink a b rate=1000 delay=1 capacity=99999999999\n", 3, "capacity"),
        ("node a\nnode b\nlink a b rate=1000 delay=1 period=1e300\n", 3, "period"),
    ])
    func malformedFileNamesLineAndField(text: String, line: Int, field: String) {
        #expect(throws: NetworkError.self) { _ = try TopologyFile(parsing: text) }
        do {
            _ = try TopologyFile(parsing: text)
        } catch {
            guard case .file(let l, let f, _) = error else {
                Issue.record("expected a file error, got \(error)")
                return
            }
            #expect(l == line)
            #expect(f == field)
            #expect("\(error)".contains("line \(line)"))
            // The user's own words appear as values, never as the name of a field.
            for word in ["wire", "colour", "fast"] { #expect(!"\(error)".contains(", field '\(word)':"), "\(error)") }
        }
    }

    /// Problems of the whole file (too few nodes, no links) name no line: not "line 0", not the line
    /// after the last one.
    @Test(arguments: [
        ("", "node", "found 0"),
        ("node a\n", "node", "found 1"),
        ("node a", "node", "found 1"),
        ("node a\r\nnode b\r\n", "link", "no link lines"),
    ])
    func wholeFileProblemsNameNoLine(text: String, field: String, reason: String) {
        do {
            _ = try TopologyFile(parsing: text)
            Issue.record("accepted: \(text.debugDescription)")
        } catch {
            guard case .file(let l, let f, let r) = error else {
                Issue.record("expected a file error, got \(error)")
                return
            }
            #expect(l == 0 && f == field && r.contains(reason), "\(error)")
            #expect("\(error)".hasPrefix("topology file: "), "\(error)")
        }
    }

    @Test func crlfFileParsesLikeLF() throws {
        let lf = "# demo\nnode x\nnode y\nlink x y rate=8000 delay=2.5 period=1 jitter=0.2\n"
        let crlf = try TopologyFile(parsing: lf.replacingOccurrences(of: "\n", with: "\r\n"))
        let plain = try TopologyFile(parsing: lf)
        #expect(crlf.network.nodeNames == ["x", "y"])
        #expect(crlf.network.links[0].delivery == plain.network.links[0].delivery)
        #expect(crlf.network.links[0].delay == 2_500_000)
    }

    @Test func disconnectedFileIsRefusedNamingANode() {
        let text = "node a\nnode b\nnode c\nnode d\nlink a b rate=1000 delay=1\nlink c d rate=1000 delay=1\n"
        do {
            _ = try TopologyFile(parsing: text)
            Issue.record("a disconnected topology was accepted")
        } catch {
            guard case .disconnected(let s) = error else {
                Issue.record("expected disconnected, got \(error)")
                return
            }
            #expect(s.contains("'c'"))
        }
    }

    @Test func validFileParses() throws {
        let f = try TopologyFile(
            parsing: "# demo\nnode x\nnode y\nnode z\nlink x y rate=8000 delay=2.5 capacity=512\nlink y z rate=4000 delay=1 period=1 jitter=0.2\n")
        #expect(f.network.nodeCount == 3)
        #expect(f.network.links[0].delay == 2_500_000)
        #expect(f.network.links[0].capacity == 512)
        #expect(f.network.links[1].delivery == .blocks(meanPeriod: 1_000_000_000, jitter: 0.2))
    }

    @Test func truncatedKeyTraceIsRefused() {
        var bytes: [UInt8] = Array(repeating: 0, count: 10)
        bytes[8] = 32
        #expect(throws: NetworkError.self) { _ = try KeyTraceSchedule(parsing: bytes + Array(repeating: 1, count: 31)) }
        let ok = try? KeyTraceSchedule(parsing: bytes + Array(repeating: 1, count: 32))
        #expect(ok?.lengths == [32])
    }

    /// A record: 8-byte little-endian timestamp (ns), 2-byte length, key bytes.
    func record(_ time: UInt64, _ length: Int) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: time >> (8 * UInt64($0))) } + [UInt8(length & 0xFF), UInt8(length >> 8)]
            + Array(repeating: 7, count: length)
    }

    @Test func tracesThatAreNoDeviceAreRefusedNotReplayed() {
        // A span past one day (here the largest timestamp); records closer than 1 µs on average.
        for bad in [record(0, 32) + record(.max, 32), record(5, 32) + record(6, 32)] {
            #expect(throws: NetworkError.self) { _ = try KeyTraceSchedule(parsing: bad) }
        }
        let device = record(1_000, 32) + record(500_001_000, 64)
        #expect((try? KeyTraceSchedule(parsing: device))?.times == [0, 500_000_000])
    }
}

@Suite struct NetworkComparisonTests {
    @Test func arrivalsAreIdenticalForEveryProtocolAndDeterministic() {
        let a = nsfnetScenario(load: 0.5).arrivals
        let b = nsfnetScenario(load: 0.5).arrivals
        #expect(a == b)
        #expect(a.count > 100)
        // Every protocol's result counts exactly the scenario's arrivals.
        let s = nsfnetScenario(load: 0.5, seconds: 8)
        for p in ProtocolKind.allCases {
            let out = try? ProtocolRunner.run(p, routing: .keyAware, scenario: s, workload: "poisson")
            #expect(out?.result.offeredRequests == s.arrivals.count)
            #expect(out?.result.offeredBits == s.arrivals.reduce(0) { $0 + Int($1.bits) })
        }
    }

    @Test(arguments: [ProtocolKind.akrp, .akrpMultipath, .akrpNoCDR])
    func akrpWastesNoKeyWithoutFaults(kind: ProtocolKind) throws {
        let s = nsfnetScenario(load: 1.3, seconds: 15)
        let out = try ProtocolRunner.run(kind, routing: .keyAware, scenario: s, workload: "poisson")
        #expect(out.result.deliveredRequests > 0)
        #expect(out.result.keyWastedBits == 0)
        #expect(out.result.keyDiscardedBits == 0)
        // Every delivered bit consumed exactly one unit per hop: consumption is a whole multiple.
        #expect(out.result.keyConsumedBits >= out.result.deliveredBits)
    }

    /// Frames group the messages one node sends one neighbour at one instant; authentication is charged
    /// per frame with the wire's cost (FrameKeyCost), alike for every protocol.
    @Test(arguments: [ProtocolKind.akrp, .hopByHop, .rsvp])
    func authenticationIsChargedPerFrame(kind: ProtocolKind) throws {
        let s = nsfnetScenario(load: 1.0, seconds: 8)
        let r = try ProtocolRunner.run(kind, routing: .shortest, scenario: s, workload: "poisson").result
        #expect(r.frames > 0 && r.frames <= r.messages)
        #expect(
            r.authenticationBits
                == FrameKeyCost.boundBits(frames: Int(r.frames), directions: 2 * s.network.links.count, unitBits: s.unitBits))
        if kind.isEngine {
            #expect(r.messagesByKind.reduce(0) { $0 + $1.1 } == r.messages)
        } else {
            #expect(r.messagesByKind.isEmpty)
        }
        if kind == .hopByHop {
            // Relays of one block of key leave together: fewer frames than messages.
            #expect(r.frames < r.messages)
        }
    }

    /// Applications that retry a failed request: every protocol gets the same rule; the application's
    /// latency runs from the first arrival and is never below the relay latency of the attempt that worked.
    @Test(arguments: [ProtocolKind.akrp, .hopByHop, .rsvp])
    func applicationRetries(kind: ProtocolKind) throws {
        var s = nsfnetScenario(load: 1.4, seconds: 10)
        let plain = try ProtocolRunner.run(kind, routing: .keyAware, scenario: s, workload: "poisson").result
        #expect(plain.attempts == plain.offeredRequests)
        #expect(plain.applicationRetryMs == nil)
        s.applicationRetry = 100_000_000
        s.applicationRetryLimit = 50
        let retried = try ProtocolRunner.run(kind, routing: .keyAware, scenario: s, workload: "poisson").result
        #expect(retried.applicationRetryMs == 100)
        #expect(retried.offeredRequests == plain.offeredRequests)
        // At load 1.4 some attempts fail: the applications ask again.
        #expect(retried.attempts > retried.offeredRequests)
        #expect(retried.applicationLatencyMean >= retried.latencyMean)
        #expect(retried.applicationLatencyP99 >= retried.latencyP99 - 1e-9)
        #expect(retried.deliveredRequests + retried.failedRequests + retried.droppedRequests + retried.unfinishedRequests
            == retried.offeredRequests)
        if kind.isEngine { #expect(retried.keyWastedBits == 0) }
    }

    /// The no-wait latency (`latency_floor_ms`) is each protocol's crossings of the delivering path: with
    /// fluid key at light load and shortest routing the three protocols use the same paths, so the floors
    /// stand 3 : 2 : 1, almost nothing waits, and no request is ever faster than its floor.
    @Test func noWaitLatencyIsEachProtocolsCrossingsOfItsPath() throws {
        var s = nsfnetScenario(load: 0.2, seconds: 6)
        s.delivery = .fluid(period: 10_000_000)
        var floor: [ProtocolKind: Double] = [:]
        for kind in [ProtocolKind.akrp, .rsvp, .hopByHop] {
            let r = try ProtocolRunner.run(kind, routing: .shortest, scenario: s, workload: "poisson").result
            #expect(r.deliveredRequests > 0)
            #expect(r.waitingMin >= 0, "\(kind): a request faster than its no-wait latency (\(r.waitingMin) ms)")
            #expect(r.waitingMean < 0.05 * r.latencyMean, "\(kind): waiting \(r.waitingMean) of \(r.latencyMean) ms")
            #expect(abs(r.latencyFloorMean + r.waitingMean - r.latencyMean) < 1e-6)
            #expect(r.latencyFloorP99 >= r.latencyFloorMean)
            floor[kind] = r.latencyFloorMean
        }
        let one = try #require(floor[.hopByHop])
        #expect(abs(try #require(floor[.rsvp]) / one - 2) < 0.02, "\(floor)")
        #expect(abs(try #require(floor[.akrp]) / one - 3) < 0.02, "\(floor)")
        // Under load with block-wise key, waiting is what grows.
        let busy = try ProtocolRunner.run(.akrp, routing: .shortest, scenario: nsfnetScenario(load: 1.2, seconds: 4), workload: "poisson")
        #expect(busy.result.waitingMean > 5 * busy.result.waitingMin + 1, "\(busy.result.waitingMean)")
        #expect(busy.result.json.contains("\"latency_floor_ms\":{\"mean\":"))
        #expect(busy.result.json.contains("\"waiting_ms\":{\"mean\":"))
    }

    @Test func hopByHopDropsAndWastesUnderOverload() throws {
        var s = nsfnetScenario(load: 1.6, seconds: 20)
        s.fifoBound = 20
        let out = try ProtocolRunner.run(.hopByHop, routing: .shortest, scenario: s, workload: "poisson")
        #expect(out.result.droppedRequests > 0)
        #expect(out.result.keyWastedBits > 0)
    }

    @Test func traceHasMatchingDigestsForDeliveredRequests() throws {
        let s = nsfnetScenario(load: 0.5, seconds: 6, recordTrace: true)
        for p in [ProtocolKind.akrp, .rsvp, .hopByHop] {
            let out = try ProtocolRunner.run(p, routing: .keyAware, scenario: s, workload: "poisson")
            #expect(out.trace.count == s.arrivals.count)
            var delivered = 0
            for line in out.trace where line.contains("\"outcome\":\"delivered\"") {
                delivered += 1
                let src = line.split(separator: "\"source_digest\":\"")[1].prefix(16)
                let dst = line.split(separator: "\"destination_digest\":\"")[1].prefix(16)
                #expect(src == dst, "\(line)")
                #expect(line.contains("\"units\":[{"))
            }
            #expect(delivered == out.result.deliveredRequests)
        }
    }

    @Test func jsonHasTheDocumentedFields() throws {
        let s = nsfnetScenario(load: 0.4, seconds: 5)
        let out = try ProtocolRunner.run(.akrp, routing: .shortest, scenario: s, workload: "poisson")
        let json = out.result.json
        for field in [
            "protocol", "routing", "load", "offered_requests", "delivered_requests", "delivered_bits", "throughput_bps",
            "key_consumed_bits", "key_wasted_bits", "consumed_per_delivered_bit", "latency_ms", "bound_throughput_bps",
            "success_ratio", "jain_fairness", "peak_pool_units", "peak_queue_packets", "reserved_idle_units_mean",
            "bound_ratio", "failed_requests",
        ] {
            #expect(json.contains("\"\(field)\":"), "missing \(field)")
        }
        for q in ["mean", "p50", "p99", "max"] { #expect(json.contains("\"\(q)\":")) }
    }

    @Test func keyScheduleIsIdenticalAcrossProtocols() throws {
        let s = nsfnetScenario(load: 0.3, seconds: 5)
        let a = try ProtocolRunner.run(.akrp, routing: .keyAware, scenario: s, workload: "poisson")
        let b = try ProtocolRunner.run(.rsvp, routing: .keyAware, scenario: s, workload: "poisson")
        #expect(a.result.keyGeneratedBits == b.result.keyGeneratedBits)
        #expect(a.result.keyGeneratedBits > 0)
    }

    @Test func flowBoundMatchesTheLPOnNSFNET() {
        // tools/flow-bound.py (HiGHS) gives 82727.27 bit/s for the uniform NSFNET demand.
        let network = SimNetwork.nsfnet()
        let b = FlowBound(network: network, demand: Demand(network: network, kind: .poisson, seed: 1).weightedPairs())
        #expect(b.bitsPerSecond <= 82_727.3)
        #expect(b.bitsPerSecond >= 0.97 * 82_727.27)
    }
}

/// The AKRP latency budget is a trade-off the operator chooses; the simulator sweeps it (`--budget-ms A,B,…`).
@Suite struct LatencyBudgetTests {
    @Test func aLargerBudgetTradesLatencyForThroughput() throws {
        var results: [ProtocolResult] = []
        for budget: UInt64 in [500_000_000, 3_000_000_000] {
            var s = nsfnetScenario(load: 1.3, seconds: 20)
            s.latencyBudget = budget
            s.etaDeviations = 2
            results.append(try ProtocolRunner.run(.akrp, routing: .keyAware, scenario: s, workload: "poisson").result)
        }
        let (tight, loose) = (results[0], results[1])
        #expect(tight.latencyP99 < loose.latencyP99)
        #expect(tight.latencyMean < loose.latencyMean)
        #expect(tight.throughputBps < loose.throughputBps)
        #expect(tight.keyWastedBits == 0 && loose.keyWastedBits == 0)
        #expect(tight.json.contains("\"latency_budget_ms\":500,"))
        #expect(tight.json.contains("\"eta_deviations\":2,"))
        #expect(tight.json.contains("\"detour_budget_ms\":0"))
        let rsvp = try ProtocolRunner.run(.rsvp, routing: .keyAware, scenario: nsfnetScenario(load: 0.5, seconds: 3), workload: "poisson")
        #expect(rsvp.result.json.contains("\"latency_budget_ms\":null"))
    }
}

/// `--demand FILE`: a demand matrix as weighted ordered pairs.
@Suite struct DemandFileTests {
    @Test func pairsAreDrawnByWeight() throws {
        let network = SimNetwork.nsfnet()
        let file = try DemandFile(parsing: "# comment\n1 14 3\n14 1 1   # back\n\n", network: network)
        #expect(file.pairs.count == 2)
        let demand = Demand(network: network, matrix: file.pairs)
        let arrivals = demand.arrivals(kind: .poisson, rate: 1000, duration: 4_000_000_000, bits: 256, seed: 9)
        let forward = arrivals.filter { $0.source == 0 && $0.destination == 13 }.count
        let back = arrivals.filter { $0.source == 13 && $0.destination == 0 }.count
        #expect(forward + back == arrivals.count)
        // 3 : 1 within a few percent over ~4,000 draws.
        #expect(abs(Double(forward) / Double(arrivals.count) - 0.75) < 0.03)
        #expect(demand.weightedPairs().map(\.2) == [0.75, 0.25])
    }

    @Test(arguments: [
        ("1 2\n", 1, "pair"),
        ("1 2 1\n1 99 1\n", 2, "destination"),
        ("x 2 1\n", 1, "source"),
        ("3 3 1\n", 1, "destination"),
        ("1 2 -1\n", 1, "weight"),
        ("1 2 abc\n", 1, "weight"),
        ("1 2 1\n\n1 2 5\n", 3, "pair"),
        ("# nothing\n", 0, "pair"),
        ("1 2 1\r\n1 2 abc\r\n", 2, "weight"),
    ])
    func malformedFilesNameTheLineAndField(text: String, line: Int, field: String) {
        #expect {
            _ = try DemandFile(parsing: text, network: SimNetwork.nsfnet())
        } throws: { error in
            guard case NetworkError.demand(let l, let f, _) = error else { return false }
            return l == line && f == field
        }
    }
}
