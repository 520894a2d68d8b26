import AKRPEngine
import Foundation
import Testing

@testable import AKRPNode

/// A fresh directory under the system's temporary directory, removed by the caller.
func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "akrp-node-tests-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.removeItem(atPath: path)
    return path
}

@Suite("Durable state: incarnation and high-water marks")
struct DurableStateTests {
    @Test("incarnations increase across restarts and survive in the file")
    func incarnations() throws {
        let dir = temporaryDirectory("incarnation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try StateStore(directory: dir).beginIncarnation()
        let second = try StateStore(directory: dir).beginIncarnation()
        let third = try StateStore(directory: dir).beginIncarnation()
        #expect(first == 1 && second == 2 && third == 3)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    }

    @Test("marks only go up and are read back by the next incarnation")
    func marks() throws {
        let dir = temporaryDirectory("marks")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        _ = try store.beginIncarnation()
        try store.raise([(NodeID(2), 5000), (NodeID(3), 70)])
        try store.raise([(NodeID(2), 4000)])  // lower: ignored
        #expect(store.mark(NodeID(2)) == 5000)
        let writes = store.writes
        try store.raise([(NodeID(3), 70)])  // unchanged: no write
        #expect(store.writes == writes)
        let again = try StateStore(directory: dir)
        #expect(again.mark(NodeID(2)) == 5000 && again.mark(NodeID(3)) == 70 && again.mark(NodeID(9)) == 0)
        #expect(again.incarnation == 1)
        #expect(!FileManager.default.fileExists(atPath: dir + "/state.new"))
    }

    @Test("a corrupt state file is refused with its path and line, never guessed")
    func corrupt() throws {
        let dir = temporaryDirectory("corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try StateStore(directory: dir).beginIncarnation()
        try "akrpd-state 1\nincarnation 4\nmark two 7\n".write(toFile: dir + "/state", atomically: true, encoding: .utf8)
        #expect {
            _ = try StateStore(directory: dir)
        } throws: { error in
            "\(error)".contains("state: line 3")
        }
    }
}

@Suite("Key store")
struct KeyStoreTests {
    @Test("a key is handed out once, then gone")
    func once() {
        let store = KeyStore(capacity: 4, expiry: 1_000)
        let id = RequestID(source: NodeID(1), serial: 7)
        let bytes: [UInt8] = Array(0..<32)
        #expect(bytes.withUnsafeBytes { store.insert(id, key: $0, now: 0) })
        let key = store.take(id)
        #expect(key.map { Array($0.bytes) } == bytes)
        #expect(store.take(id) == nil)
        #expect(store.fetched == 1)
    }

    @Test("bounded: a full store and a repeated ID refuse the key")
    func bounded() {
        let store = KeyStore(capacity: 2, expiry: 1_000)
        let bytes = [UInt8](repeating: 9, count: 32)
        for serial in UInt32(1)...3 {
            _ = bytes.withUnsafeBytes { store.insert(RequestID(source: NodeID(1), serial: serial), key: $0, now: 0) }
        }
        #expect(store.count == 2 && store.refused == 1)
        #expect(!bytes.withUnsafeBytes { store.insert(RequestID(source: NodeID(1), serial: 1), key: $0, now: 0) })
        #expect(store.refused == 2)
    }

    @Test("keys not fetched in time are wiped")
    func expiry() {
        let store = KeyStore(capacity: 8, expiry: 100)
        let bytes = [UInt8](repeating: 1, count: 32)
        _ = bytes.withUnsafeBytes { store.insert(RequestID(source: NodeID(1), serial: 1), key: $0, now: 0) }
        _ = bytes.withUnsafeBytes { store.insert(RequestID(source: NodeID(1), serial: 2), key: $0, now: 50) }
        store.expire(now: 120)
        #expect(store.count == 1 && store.expired == 1 && store.nextExpiry == 150)
        store.expire(now: 150)
        #expect(store.count == 0 && store.nextExpiry == .max)
    }
}

@Suite("Peer greeting")
struct PeerGreetingTests {
    @Test("round trip")
    func roundTrip() throws {
        let g = PeerGreeting(sender: NodeID(3), receiver: NodeID(9), incarnation: 1 << 40, head: 123_456_789)
        let bytes = g.encoded()
        #expect(bytes.count == PeerGreeting.length)
        #expect(try PeerGreeting(decoding: bytes[...]) == g)
    }

    @Test("anything else is refused with a reason", arguments: [0, 8, 10])
    func refused(position: Int) {
        var bytes = PeerGreeting(sender: NodeID(1), receiver: NodeID(2), incarnation: 1, head: 0).encoded()
        bytes[position] ^= 0xFF
        #expect(throws: PeerGreeting.Error.self) { try PeerGreeting(decoding: bytes[...]) }
    }

    @Test("a greeting of the previous neighbour protocol (version 1) is refused by name")
    func previousVersion() {
        var bytes = PeerGreeting(sender: NodeID(1), receiver: NodeID(2), incarnation: 1, head: 0).encoded()
        bytes[8] = 0
        bytes[9] = 1
        #expect(throws: PeerGreeting.Error.unsupportedVersion(1)) { try PeerGreeting(decoding: bytes[...]) }
        #expect(PeerGreeting.Error.unsupportedVersion(1).description == "unsupported peer greeting version 1")
    }

    @Test("a short greeting is refused")
    func short() {
        let bytes = PeerGreeting(sender: NodeID(1), receiver: NodeID(2), incarnation: 1, head: 0).encoded()
        #expect(throws: PeerGreeting.Error.badMagic) { try PeerGreeting(decoding: bytes.dropLast()) }
    }
}

@Suite("Audit log")
struct AuditLogTests {
    @Test("lines name node, link, request and unit ranges; authentication runs are merged")
    func lines() throws {
        let dir = temporaryDirectory("audit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let log = try AuditLog(directory: dir, node: NodeID(2))
        var units = UnitRuns()
        try units.append(run: UnitRun(start: 100, count: 4))
        try units.append(run: UnitRun(start: 110, count: 1))
        log.consumed(link: LinkID(NodeID(2), NodeID(1)), request: RequestID(source: NodeID(1), serial: 5), units: units, now: 7)
        for u: UInt64 in [16, 17, 18, 40] { log.authentication(link: LinkID(NodeID(1), NodeID(2)), sent: true, unit: u) }
        log.flush(now: 8)
        let text = try String(contentsOfFile: dir + "/audit.log", encoding: .utf8)
        #expect(text.contains("7 consumed node=2 link=1-2 request=1:5 units=100-103,110\n"))
        #expect(text.contains("8 auth node=2 link=1-2 dir=sent units=16-18,40\n"))
    }
}

@Suite("Latency histogram")
struct LatencyHistogramTests {
    @Test("quantiles within one bucket (6.25 %) of the exact ones, max exact")
    func quantiles() {
        var h = LatencyHistogram()
        var values: [UInt64] = []
        var x: UInt64 = 12345
        for _ in 0..<10_000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let v = 1_000 + (x >> 40) % 5_000_000  // 1 µs … 5 ms
            values.append(v)
            h.record(v)
        }
        values.sort()
        for q in [0.5, 0.9, 0.99] {
            let exact = Double(values[Int((q * Double(values.count)).rounded(.up)) - 1])
            let got = Double(h.quantile(q))
            #expect(got <= exact && got >= exact * (1 - 0.0625), "q\(q): \(got) vs \(exact)")
        }
        #expect(h.quantile(1) == values.last)
        #expect(h.total == 10_000)
    }

    @Test("small values are exact, an empty histogram says 0")
    func small() {
        var h = LatencyHistogram()
        #expect(h.quantile(0.5) == 0)
        for v: UInt64 in [0, 3, 7, 15] { h.record(v) }
        #expect(h.quantile(0.25) == 0 && h.quantile(0.5) == 3 && h.quantile(0.75) == 7 && h.quantile(1) == 15)
    }
}
