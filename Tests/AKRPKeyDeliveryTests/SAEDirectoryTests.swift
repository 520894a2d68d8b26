import AKRPConfig
import AKRPEngine
import AKRPKeyDelivery
import Testing

/// Identity from the certificate and the authorisation rules.
@Suite struct SAEDirectoryTests {
    static func directory(at node: UInt32) -> SAEDirectory {
        var c = NodeConfiguration(
            node: NodeID(node), listen: NetworkAddress(host: "127.0.0.1", port: 7401), controlSocket: "/tmp/c.sock",
            stateDirectory: "/tmp/s",
            topology: TopologyDescription(
                nodes: [.init(id: NodeID(1), name: "a"), .init(id: NodeID(4), name: "d")],
                links: [.init(a: NodeID(1), b: NodeID(4), bitsPerSecond: 1_000_000, delay: 0)]),
            neighbours: [])
        var k = KeyDeliverySettings(
            listen: NetworkAddress(host: "127.0.0.1", port: 8443), certificate: "b.pem", privateKey: "k.pem", clientCA: "ca.pem")
        k.revoked = [[UInt8](repeating: 9, count: 32)]
        c.keyDelivery = k
        var alice = SAERegistration(id: "alice", node: NodeID(1))
        alice.subject = "CN=alice"
        var pinned = SAERegistration(id: "pinned", node: NodeID(1))
        pinned.subject = "CN=pinned"
        pinned.fingerprint = [UInt8](repeating: 1, count: 32)
        var bob = SAERegistration(id: "bob", node: NodeID(4))
        bob.subject = "CN=bob"
        var carol = SAERegistration(id: "carol", node: NodeID(4))
        carol.fingerprint = [UInt8](repeating: 2, count: 32)
        c.saes = [alice, pinned, bob, carol]
        return SAEDirectory(configuration: c)
    }

    let box1 = Self.directory(at: 1)
    let box4 = Self.directory(at: 4)
    let some = [UInt8](repeating: 7, count: 32)

    func code(_ body: () throws(ETSIError) -> Void) -> Int? {
        do throws(ETSIError) {
            try body()
            return nil
        } catch { return error.status }
    }

    @Test func identityFromSubjectOrFingerprint() throws {
        #expect(try box1.identify(fingerprint: some, subject: "CN=alice").id == "alice")
        #expect(try box4.identify(fingerprint: [UInt8](repeating: 2, count: 32), subject: "CN=whatever").id == "carol")
        // A fingerprint-pinned SAE is not recognised by its subject alone.
        #expect(code { () throws(ETSIError) in _ = try box1.identify(fingerprint: some, subject: "CN=pinned") } == 401)
        #expect(try box1.identify(fingerprint: [UInt8](repeating: 1, count: 32), subject: "CN=pinned").id == "pinned")
        // SAEs of another box are not recognised here.
        #expect(code { () throws(ETSIError) in _ = try box1.identify(fingerprint: some, subject: "CN=bob") } == 401)
        #expect(code { () throws(ETSIError) in _ = try box1.identify(fingerprint: [UInt8](repeating: 9, count: 32), subject: "CN=alice") } == 401)
    }

    @Test func authorisationRules() throws {
        let alice = try box1.identify(fingerprint: some, subject: "CN=alice")
        #expect(try box1.slave("bob", for: alice).node == NodeID(4))
        #expect(code { () throws(ETSIError) in _ = try box1.slave("nobody", for: alice) } == 400)
        #expect(code { () throws(ETSIError) in _ = try box1.slave("alice", for: alice) } == 401)
        #expect(code { () throws(ETSIError) in _ = try box1.slave("pinned", for: alice) } == 401)  // same box
        let bob = try box4.identify(fingerprint: some, subject: "CN=bob")
        #expect(try box4.master("alice", for: bob).id == "alice")
        #expect(code { () throws(ETSIError) in _ = try box4.master("carol", for: bob) } == 401)  // a master at this box
        #expect(code { () throws(ETSIError) in _ = try box4.master("nobody", for: bob) } == 400)
    }
}
