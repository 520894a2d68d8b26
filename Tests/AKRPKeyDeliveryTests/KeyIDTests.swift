import AKRPConfig
import AKRPEngine
import AKRPKeyDelivery
import Testing

/// key_IDs: UUIDs of version 8 that carry the relay, the range and a tag binding them to the pair.
@Suite struct KeyIDTests {
    @Test(arguments: [(1, 1, 32, 32), (65535, UInt32.max, 65535 - 4095, 4095), (7, 1_048_577, 2016, 32)])
    func roundTrips(_ c: (UInt32, UInt32, Int, Int)) throws {
        let id = KeyID(relay: RequestID(source: NodeID(c.0), serial: c.1), offset: c.2, length: c.3, tag: 0x2AAA_AAAA_AAAA)
        let text = id.description
        #expect(text.count == 36)
        let chars = Array(text)
        #expect(chars[14] == "8")  // version 8
        #expect("89ab".contains(chars[19]))  // RFC 9562 variant
        let back = try #require(KeyID(text))
        #expect(back == id)
        #expect(KeyID(text.uppercased()) == id)
    }

    @Test func foreignUUIDsAreNotKeyIDs() {
        #expect(KeyID("550e8400-e29b-41d4-a716-446655440000") == nil)  // version 4
        #expect(KeyID("not a uuid") == nil)
        #expect(KeyID("00000000-0000-8000-8000-000000000000") == nil)  // source 0, length 0
    }

    @Test func theTagBindsPairAndRange() {
        let binding: [UInt8] = (0..<32).map { UInt8($0 &* 7 &+ 3) }
        binding.withUnsafeBytes { b in
            let t = KeyID.bindingTag(binding: b, master: "alice", slave: "bob", offset: 32, length: 32)
            #expect(t < 1 << 46)
            #expect(t == KeyID.bindingTag(binding: b, master: "alice", slave: "bob", offset: 32, length: 32))
            #expect(t != KeyID.bindingTag(binding: b, master: "alice", slave: "carol", offset: 32, length: 32))
            #expect(t != KeyID.bindingTag(binding: b, master: "mallory", slave: "bob", offset: 32, length: 32))
            #expect(t != KeyID.bindingTag(binding: b, master: "alice", slave: "bob", offset: 64, length: 32))
            #expect(t != KeyID.bindingTag(binding: b, master: "alice", slave: "bob", offset: 32, length: 16))
            // "ab"+"c" and "a"+"bc" differ: the IDs are separated.
            #expect(
                KeyID.bindingTag(binding: b, master: "ab", slave: "c", offset: 32, length: 32)
                    != KeyID.bindingTag(binding: b, master: "a", slave: "bc", offset: 32, length: 32))
        }
        let other: [UInt8] = (0..<32).map { UInt8($0) }
        let t1 = binding.withUnsafeBytes { KeyID.bindingTag(binding: $0, master: "alice", slave: "bob", offset: 32, length: 32) }
        let t2 = other.withUnsafeBytes { KeyID.bindingTag(binding: $0, master: "alice", slave: "bob", offset: 32, length: 32) }
        #expect(t1 != t2)
    }
}
