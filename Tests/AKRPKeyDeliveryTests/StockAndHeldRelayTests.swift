import AKRPConfig
import AKRPEngine
import AKRPNode
import Testing

@testable import AKRPKeyDelivery

/// The two ends of a relayed key: the master's stock cuts keys and names them, the slave's box finds the
/// same bytes by key_ID alone — for the right pair only, once.
@Suite struct StockAndHeldRelayTests {
    static let relayBytes = 2048
    /// A relayed key as both boxes hold it after the relay (different bytes per position).
    static let relay: [UInt8] = (0..<relayBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    static let id = RequestID(source: NodeID(1), serial: 1_048_577)

    func pair() -> (PairStock, HeldRelays) {
        var alice = SAERegistration(id: "alice", node: NodeID(1))
        alice.subject = "CN=alice"
        let bob = SAERegistration(id: "bob", node: NodeID(4))
        let stock = PairStock(master: alice, slave: bob, depth: 1)
        stock.relayStarted()
        Self.relay.withUnsafeBytes { stock.relayEnded(PairStock.Relay(id: Self.id, key: SecretBytes(copying: $0))) }
        let held = HeldRelays(capacity: 4, expiry: 1_000_000_000, minimumKeyBytes: 8)
        let kept = Self.relay.withUnsafeBytes { held.insert(Self.id, key: $0, now: 0) }
        #expect(kept)
        return (stock, held)
    }

    @Test func bothEndsGetTheSameKeysOnce() throws {
        let (stock, held) = pair()
        #expect(stock.keysAvailable(bytesPerKey: 32) == (Self.relayBytes - 32) / 32)
        let keys = try #require(stock.cut(number: 3, bytesPerKey: 32))
        let more = try #require(stock.cut(number: 2, bytesPerKey: 64))
        var offset = KeyID.bindingBytes
        for k in keys + more {
            // The master's copy is the relay's range; the stock's copy of the range is wiped.
            let expected = Array(Self.relay[offset..<(offset + k.id.length)])
            #expect(Array(UnsafeRawBufferPointer(k.key.secret.bytes)) == expected)
            #expect(k.id.offset == offset && k.id.relay == Self.id)
            let parsed = try #require(KeyID(k.id.description))
            // Another SAE at the slave's box, or another master in the path: refused, key kept.
            #expect(throws: HeldRelays.Refusal.self) { try held.take(parsed, master: "alice", slave: "carol").get() }
            #expect(throws: HeldRelays.Refusal.self) { try held.take(parsed, master: "dave", slave: "bob").get() }
            let got = try held.take(parsed, master: "alice", slave: "bob").get()
            #expect(Array(UnsafeRawBufferPointer(got.bytes)) == expected)
            // Once only.
            #expect(throws: HeldRelays.Refusal.self) { try held.take(parsed, master: "alice", slave: "bob").get() }
            offset += k.id.length
        }
        #expect(stock.storedBytes == Self.relayBytes - offset)
    }

    @Test func aForgedRangeIsRefused() throws {
        let (stock, held) = pair()
        let k = try #require(stock.cut(number: 1, bytesPerKey: 32)).first!
        // The same relay and tag with a longer range, or the next range with the old tag.
        for forged in [
            KeyID(relay: k.id.relay, offset: k.id.offset, length: 64, tag: k.id.tag),
            KeyID(relay: k.id.relay, offset: k.id.offset + 32, length: 32, tag: k.id.tag),
            KeyID(relay: k.id.relay, offset: 0, length: 32, tag: k.id.tag),
        ] {
            let r = held.take(forged, master: "alice", slave: "bob")
            #expect(throws: HeldRelays.Refusal.self) { try r.get() }
        }
        #expect(throws: Never.self) { try held.take(k.id, master: "alice", slave: "bob").get() }
    }

    @Test func stockWaitsAndRefillsAreCounted() {
        let (stock, _) = pair()
        #expect(stock.cut(number: 64, bytesPerKey: 32) == nil)  // 63 fit: nothing is cut
        #expect(stock.keysAvailable(bytesPerKey: 32) == 63)
        var served: [Int] = []
        stock.addWaiter(PairStock.Waiter(number: 100, bytesPerKey: 32) { r in
            if case .success(let keys) = r { served.append(keys.count) }
        })
        #expect(stock.relaysWanted(relayBytes: Self.relayBytes) == 1)  // 37 more keys need one more relay
        stock.serveWaiters()
        #expect(served.isEmpty)
        stock.relayStarted()
        let next: [UInt8] = (0..<Self.relayBytes).map { UInt8(truncatingIfNeeded: $0) }
        next.withUnsafeBytes {
            stock.relayEnded(PairStock.Relay(id: RequestID(source: NodeID(1), serial: 1_048_578), key: SecretBytes(copying: $0)))
        }
        stock.serveWaiters()
        #expect(served == [100])
        #expect(stock.keysAvailable(bytesPerKey: 32) == 126 - 100)
    }

    @Test func heldRelaysAreBounded() {
        let held = HeldRelays(capacity: 2, expiry: 10, minimumKeyBytes: 8)
        Self.relay.withUnsafeBytes { key in
            #expect(held.insert(RequestID(source: NodeID(1), serial: 1), key: key, now: 0))
            #expect(!held.insert(RequestID(source: NodeID(1), serial: 1), key: key, now: 0))  // the same ID
            #expect(held.insert(RequestID(source: NodeID(1), serial: 2), key: key, now: 5))
            #expect(!held.insert(RequestID(source: NodeID(1), serial: 3), key: key, now: 5))  // full
        }
        held.expire(now: 10)
        #expect(held.count == 1)
        held.removeAll()
        #expect(held.count == 0)
    }
}
