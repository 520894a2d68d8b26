import AKRPEngine
import AKRPSimulation
import Testing

/// The authentication reserve must not pin a pool: an own unit that a request held while frames were keyed
/// past it, and that the request then gave back, lies below the authentication pointer — authentication
/// will never take it, so requests must.
@Suite("Authentication reserve")
struct AuthenticationReserveTests {
    @Test("an own unit released below the authentication pointer is used by the next request")
    func unitBelowPointerIsUsed() throws {
        var c = SmallNetwork.configuration()
        c.authenticationReserve = 4
        c.reroutes = 0
        c.borrowing = false  // own units only: the units held below are node 1's
        let net = try ManualNetwork(topology: SmallNetwork.line(2), configuration: c)
        net.run()
        let link = LinkID(NodeID(1), NodeID(2))
        net.supplyKey(link: link, count: 48)
        net.run()
        let node1 = net.engine(NodeID(1))
        let pool = try #require(node1.pool(toward: NodeID(2)))
        // R1 binds two own units past the reserve (node 1 owns blocks 0, 8, 16, … of 4 units).
        let r1 = try net.request(from: NodeID(1), to: NodeID(2), units: 2)
        let held = (0..<UInt64(48)).filter { pool.state($0) == .bound }
        #expect(held.count == 2)
        // Frames keyed past the held units move the authentication pointer beyond them.
        var key = [UInt8](repeating: 0, count: 32)
        var last: UnitIndex = 0
        while last <= (held.max() ?? 0) {
            last = try #require(key.withUnsafeMutableBytes { node1.takeAuthenticationKey(toward: NodeID(2), into: $0) })
        }
        // R1's reservation is lost; its lease runs out and its units come back, below the pointer.
        for q in net.busyQueues { net.drop(queue: q) }
        net.advance(by: c.lease + c.retryInterval)
        net.run()
        for _ in 0..<c.abortAttempts + 1 {
            net.advance(by: c.retryInterval)
            net.run()
        }
        #expect(net.sourceKeys[r1] == nil)
        let freed = held.filter { pool.state($0) == .available }
        #expect(!freed.isEmpty, "the lost request's own units should be free again")
        // The next request takes them: nothing else could, and they would pin the pool's head.
        let r2 = try net.request(from: NodeID(1), to: NodeID(2), units: 2)
        net.run()
        #expect(net.sourceKeys[r2] != nil && net.sourceKeys[r2] == net.destinationKeys[r2])
        for u in freed { #expect(pool.state(u) != .available, "unit \(u) below the pointer was left unused") }
        #expect(net.checker.violations.isEmpty)
    }
}
