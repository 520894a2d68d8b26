import AKRPConfig
import AKRPEngine
import Foundation
import Testing

/// One change to the example configuration and what validation must say about it (nil: valid).
struct BoundaryCase: CustomTestStringConvertible, Sendable {
    var name: String
    var change: @Sendable (inout NodeConfiguration) -> Void
    var error: ConfigurationValidationError?
    var testDescription: String { name }
}

@Suite struct ConfigurationValidationTests {
    static func invalid(_ place: ConfigurationPlace, _ field: String?, _ reason: String) -> ConfigurationValidationError {
        .invalid(place: place, field: field, reason: reason)
    }

    static let boundaries: [BoundaryCase] = [
        BoundaryCase(name: "unit-size 31", change: { $0.engine.unitSize = 31 }, error: invalid(.engine, "unit-size", "must be 32…4096 bytes, got 31")),
        BoundaryCase(name: "unit-size 32", change: { $0.engine.unitSize = 32 }, error: nil),
        BoundaryCase(name: "unit-size 4096", change: { $0.engine.unitSize = 4096; $0.engine.maxRequestUnits = 15 }, error: nil),
        BoundaryCase(
            name: "unit-size 4097", change: { $0.engine.unitSize = 4097; $0.engine.maxRequestUnits = 15 },
            error: invalid(.engine, "unit-size", "must be 32…4096 bytes, got 4097")),
        BoundaryCase(
            name: "request over 65535 bytes", change: { $0.engine.unitSize = 4096; $0.engine.maxRequestUnits = 16 },
            error: invalid(.engine, "max-request-units", "16 units of 4096 bytes exceed 65535 bytes per request")),
        BoundaryCase(
            name: "high-water-step 0", change: { $0.highWaterStep = 0 },
            error: invalid(.top, "high-water-step", "must be 1…4294967296 units, got 0")),
        BoundaryCase(name: "high-water-step 2^32", change: { $0.highWaterStep = 1 << 32 }, error: nil),
        BoundaryCase(
            name: "high-water-step 2^32+1", change: { $0.highWaterStep = (1 << 32) + 1 },
            error: invalid(.top, "high-water-step", "must be 1…4294967296 units, got 4294967297")),
        BoundaryCase(
            name: "key store capacity 0", change: { $0.keyStore.capacity = 0 },
            error: invalid(.keys, "capacity", "must be 1…1000000 keys, got 0")),
        BoundaryCase(name: "key store capacity 1000000", change: { $0.keyStore.capacity = 1_000_000 }, error: nil),
        BoundaryCase(
            name: "key store capacity 1000001", change: { $0.keyStore.capacity = 1_000_001 },
            error: invalid(.keys, "capacity", "must be 1…1000000 keys, got 1000001")),
        BoundaryCase(
            name: "key expiry 0", change: { $0.keyStore.expiry = 0 },
            error: invalid(.keys, "expiry-s", "must be more than 0 and at most 86400 s, got 0")),
        BoundaryCase(
            name: "listen port 0", change: { $0.listen.port = 0 },
            error: invalid(.top, "listen", "port must be 1…65535, got 0")),
        BoundaryCase(name: "listen port 65535", change: { $0.listen.port = 65_535 }, error: nil),
        BoundaryCase(
            name: "empty control socket", change: { $0.controlSocket = "" },
            error: invalid(.top, "control-socket", "must not be empty")),
        BoundaryCase(
            name: "control socket longer than a socket address", change: { $0.controlSocket = "/" + String(repeating: "s", count: 107) },
            error: invalid(.top, "control-socket", "must be at most 107 bytes, got 108")),
        BoundaryCase(
            name: "state dir with a newline", change: { $0.stateDirectory = "/var/lib\nx" },
            error: invalid(.top, "state-dir", "must not contain control characters")),
        BoundaryCase(
            name: "empty trace path", change: { $0.neighbours[1].source = .trace(path: "") },
            error: invalid(.neighbour(index: 1, node: NodeID(3)), "path", "must not be empty")),
        BoundaryCase(
            name: "lease 0", change: { $0.engine.lease = 0 },
            error: invalid(.engine, "lease-ms", "must be more than 0 and at most 86400000 ms, got 0")),
        BoundaryCase(
            name: "latency budget over a day", change: { $0.engine.latencyBudget = 86_400_000_000_001 },
            error: invalid(.engine, "latency-budget-ms", "must be 0…86400000 ms, got 86400000.000001")),
        BoundaryCase(
            name: "ownership block 2^64-1", change: { $0.engine.ownershipBlock = .max },
            error: invalid(.engine, "ownership-block", "must be 1…65536 units, got 18446744073709551615")),
        BoundaryCase(
            name: "eta-deviations NaN", change: { $0.engine.etaDeviations = .nan },
            error: invalid(.engine, "eta-deviations", "must be 0…10, got nan")),
        BoundaryCase(
            name: "jitter negative", change: {
                $0.neighbours[0].source = .simulated(seed: 1, epoch: 1, bitsPerSecond: 1, blockPeriod: 0, jitter: -0.1)
            }, error: invalid(.neighbour(index: 0, node: NodeID(1)), "jitter", "must be 0…0.9, got -0.1")),
        BoundaryCase(
            name: "simulated rate 0", change: {
                $0.neighbours[0].source = .simulated(seed: 1, epoch: 1, bitsPerSecond: 0, blockPeriod: 0, jitter: 0)
            }, error: invalid(.neighbour(index: 0, node: NodeID(1)), "rate", "must be 1…1000000000000 bits per second, got 0")),
        BoundaryCase(
            name: "authentication reserve = pool", change: { $0.engine.poolCapacity = 64; $0.engine.authenticationReserve = 64 },
            error: invalid(.engine, "authentication-reserve", "must be 0…63 units (less than pool-capacity), got 64")),
        BoundaryCase(
            name: "engine memory over 4 GiB", change: { $0.engine.accumulatorCapacity = 1_000_000; $0.engine.maxRequestUnits = 256 },
            error: invalid(.engine, nil, "pools and tables need 7813 MiB, more than 4096 MiB")),
        BoundaryCase(
            name: "node 0", change: { $0.node = .none }, error: invalid(.top, "node", "must be a non-zero node ID, got 0")),
        BoundaryCase(
            name: "topology node 0", change: { $0.topology.nodes[0].id = .none },
            error: invalid(.topologyNode(index: 0, id: .none), "node", "node ID 0 is reserved")),
        BoundaryCase(
            name: "self-loop", change: { $0.topology.links[1].b = NodeID(2) },
            error: invalid(.topologyLink(index: 1, a: NodeID(2), b: NodeID(2)), "link", "links node 2 to itself")),
        BoundaryCase(
            name: "link delay over an hour", change: { $0.topology.links[0].delay = 3_600_000_000_001 },
            error: invalid(.topologyLink(index: 0, a: NodeID(1), b: NodeID(2)), "delay-ms", "must be 0…3600000 ms, got 3600000.000001")),
        BoundaryCase(
            name: "unknown log level", change: { $0.logLevel = "INFO" },
            error: invalid(.top, "log-level", "must be one of trace|debug|info|notice|warning|error|critical, got 'INFO'")),
        BoundaryCase(
            name: "neighbour at the listen address", change: { $0.neighbours[0].address = NetworkAddress(host: "0.0.0.0", port: 7402) },
            error: invalid(.neighbour(index: 0, node: NodeID(1)), "address", "0.0.0.0:7402 is this box's own listen address")),
        BoundaryCase(
            name: "same address, host in another case", change: {
                $0.neighbours[0].address = NetworkAddress(host: "box.example", port: 1)
                $0.neighbours[1].address = NetworkAddress(host: "BOX.example", port: 1)
            }, error: invalid(.neighbour(index: 1, node: NodeID(3)), "address", "BOX.example:1 is also the address of [neighbour 1]")),
        BoundaryCase(
            name: "bad IPv6 literal", change: { $0.listen = NetworkAddress(host: "::g", port: 1) },
            error: invalid(.top, "listen", "host '::g' is not an IPv6 address")),
        BoundaryCase(
            name: "neighbour twice", change: { $0.neighbours.append($0.neighbours[0]) },
            error: invalid(.neighbour(index: 2, node: NodeID(1)), nil, "node 1 is configured twice (also neighbour section #1)")),
        BoundaryCase(
            name: "missing neighbour", change: { $0.neighbours.removeFirst() },
            error: .missingNeighbour(node: NodeID(1), name: "alpha", link: 0)),
        BoundaryCase(
            name: "neighbour not in the topology", change: { $0.neighbours[0].node = NodeID(9) },
            error: .extraNeighbour(index: 0, node: NodeID(9), reason: "node 9 is not listed in the [topology]")),
        BoundaryCase(
            name: "no topology nodes", change: { $0.topology = TopologyDescription(nodes: [], links: []) },
            error: invalid(.topology, "node", "must list 1…65535 nodes, got 0")),
    ]

    @Test(arguments: boundaries)
    func boundary(_ b: BoundaryCase) {
        var c = Fixtures.fullExampleValue
        b.change(&c)
        if let expected = b.error {
            #expect(throws: expected) { try c.validate() }
        } else {
            #expect(throws: Never.self) { try c.validate() }
        }
    }

    /// Validation problems found in a text file are reported at the line of the field (or its section).
    @Test func placeDescriptions() {
        #expect(ConfigurationPlace.top.description == "")
        #expect(ConfigurationPlace.neighbour(index: 0, node: NodeID(3)).description == "[neighbour 3]")
        #expect(ConfigurationPlace.topologyLink(index: 0, a: NodeID(1), b: NodeID(2)).description == "[topology] link 1-2")
        #expect(ConfigurationValidationError.invalid(place: .top, field: "listen", reason: "x").description == "field 'listen': x")
        #expect(ConfigurationValidationError.invalid(place: .topology, field: nil, reason: "x").description == "[topology]: x")
        #expect(ConfigurationValidationError.missingNeighbour(node: NodeID(3), name: "gamma", link: 1).description
            == "node 3 'gamma' is linked to this node in the topology but has no [neighbour 3] section")
    }

    @Test func jsonHasEveryField() throws {
        for c in [Fixtures.fullExampleValue, Fixtures.unusual] {
            let text = ConfigurationJSON.render(c)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(object.keys.count == 14)  // 12, and keyDelivery and saes (key delivery)
            let engine = try #require(object["engine"] as? [String: Any])
            #expect(engine.keys.count == 34)
            #expect(engine["unitSize"] as? Int == c.engine.unitSize)
            #expect((object["keyStore"] as? [String: Any])?.keys.count == 3)
            #expect((object["peers"] as? [String: Any])?.keys.count == 5)
            let listen = try #require(object["listen"] as? [String: Any])
            #expect(listen["host"] as? String == c.listen.host)
        }
        let unusual = try #require(
            try JSONSerialization.jsonObject(with: Data(ConfigurationJSON.render(Fixtures.unusual).utf8)) as? [String: Any])
        #expect(unusual["controlSocket"] as? String == Fixtures.unusual.controlSocket)
        #expect((unusual["engine"] as? [String: Any])?["detourBudgetNanoseconds"] is NSNull)
    }
}

/// Random damage to texts and images: parsing and decoding never trap, and whatever they accept round-trips.
@Suite struct ConfigurationRobustnessTests {
    /// SplitMix64, so that a failure replays.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    @Test func damagedTextsNeverTrap() throws {
        var random = Random(state: 1)
        let original = Array(Fixtures.fullExample.utf8)
        let alphabet = Array("=#[]\"\\ \t\r\n.:-_0123456789azAZ\u{1}".utf8) + [0xC3, 0xFF]
        var accepted = 0
        for _ in 0..<1000 {
            var bytes = original
            for _ in 0..<(1 + random.below(3)) {
                let at = random.below(bytes.count)
                switch random.below(3) {
                case 0: bytes[at] = alphabet[random.below(alphabet.count)]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[random.below(alphabet.count)], at: at)
                }
            }
            if let c = try? ConfigurationText.parse(bytes: bytes) {
                accepted += 1
                #expect(try ConfigurationText.parse(ConfigurationText.render(c)) == c)
                #expect(try ConfigurationImage.decode(ConfigurationImage.encode(c)) == c)
            }
        }
        #expect(accepted > 0)
    }

    @Test func damagedBodiesWithValidChecksumsNeverTrap() {
        var random = Random(state: 2)
        let image = ConfigurationImage.encode(Fixtures.unusual)
        let body = Array(image[ConfigurationImage.headerSize...])
        var accepted = 0
        for _ in 0..<3000 {
            var b = body
            for _ in 0..<(1 + random.below(2)) {
                let at = random.below(b.count)
                switch random.below(4) {
                case 0: b[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: b[at] ^= 1 << UInt8(random.below(8))
                case 2: b.removeSubrange(at..<min(b.count, at + 1 + random.below(8)))
                default: b.insert(UInt8(truncatingIfNeeded: random.next()), at: at)
                }
            }
            let sealed = ConfigurationImageTests.sealed(b)
            if let c = try? ConfigurationImage.decode(sealed) {
                accepted += 1
                #expect(ConfigurationImage.encode(c) == sealed, "encoding is canonical")
            }
        }
        #expect(accepted > 0)
    }

    @Test func randomBytesNeverTrap() {
        var random = Random(state: 3)
        for _ in 0..<2000 {
            let count = random.below(200)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if random.below(2) == 0 { bytes = ConfigurationImage.magic + bytes }
            _ = try? ConfigurationImage.decode(bytes)
            _ = try? ConfigurationText.parse(bytes: bytes)
        }
    }
}
