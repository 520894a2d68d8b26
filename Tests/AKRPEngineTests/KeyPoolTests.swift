import Testing
@testable import AKRPEngine

@Suite("Key pool ring")
struct KeyPoolTests {
    func units(_ count: Int, from index: UInt64, size: Int = 4) -> [UInt8] {
        (0..<(count * size)).map { UInt8(truncatingIfNeeded: Int(index) * size + $0 + 1) }
    }

    func deliver(_ pool: KeyPool, _ count: Int, from index: UInt64) throws(KeyPoolError) {
        let b = units(count, from: index, size: pool.unitSize)
        let r = b.withUnsafeBytes { p -> Result<Void, KeyPoolError> in
            do throws(KeyPoolError) { try pool.deliver(index: index, bytes: p) } catch { return .failure(error) }
            return .success(())
        }
        try r.get()
    }

    @Test("a full ring refuses deliveries with a typed error")
    func full() throws {
        let pool = KeyPool(capacity: 8, unitSize: 4, ownershipBlock: 2, isLowEnd: true)
        try deliver(pool, 8, from: 0)
        #expect(pool.room == 0)
        #expect(throws: KeyPoolError.full) { try deliver(pool, 1, from: 8) }
        #expect(pool.tail == 8)
    }

    @Test("repeated and bad-length deliveries are refused; a forward gap discards the lost units")
    func ordering() throws {
        let pool = KeyPool(capacity: 8, unitSize: 4, ownershipBlock: 2, isLowEnd: true)
        try deliver(pool, 2, from: 100)
        #expect(pool.head == 100 && pool.tail == 102)
        #expect(throws: KeyPoolError.outOfOrder(expected: 102, got: 101)) { try deliver(pool, 1, from: 101) }
        pool.hold(103, holder: 7, as: .bound)
        try deliver(pool, 1, from: 105)
        #expect(pool.tail == 106)
        #expect(pool.state(103) == .discarded && pool.heldUnits == 0)
        #expect(pool.discardedUnits == 3)
        // A gap longer than the window: everything tracked is burned and the pool continues there.
        try deliver(pool, 1, from: 1_000)
        #expect(pool.head == 1_000 && pool.tail == 1_001)
        let odd = [UInt8](repeating: 1, count: 5)
        let r = odd.withUnsafeBytes { p -> KeyPoolError? in
            do throws(KeyPoolError) { try pool.deliver(index: 102, bytes: p) } catch { return error }
            return nil
        }
        #expect(r == .badLength)
    }

    @Test("wrap-around: consumed units free their slots, bytes survive the wrap", arguments: [1, 3, 7, 8])
    func wrap(step: Int) throws {
        let pool = KeyPool(capacity: 8, unitSize: 4, ownershipBlock: 2, isLowEnd: true)
        var next: UInt64 = 0
        var consumedUpTo: UInt64 = 0
        var buffer = [UInt8](repeating: 0, count: 4)
        for _ in 0..<20 {
            let n = min(step, pool.room)
            try deliver(pool, n, from: next)
            next += UInt64(n)
            while consumedUpTo < next {
                pool.hold(consumedUpTo, holder: 1, as: .bound)
                buffer = [0, 0, 0, 0]
                buffer.withUnsafeMutableBytes { #expect(pool.consume(consumedUpTo, holder: 1, xorInto: $0, at: 0)) }
                #expect(buffer == units(1, from: consumedUpTo))
                consumedUpTo += 1
            }
            #expect(pool.head == next)
        }
        #expect(pool.consumedUnits == next)
        #expect(pool.heldUnits == 0)
    }

    @Test("ownership alternates in blocks between the two ends")
    func ownership() {
        let low = KeyPool(capacity: 16, unitSize: 4, ownershipBlock: 4, isLowEnd: true)
        let high = KeyPool(capacity: 16, unitSize: 4, ownershipBlock: 4, isLowEnd: false)
        for i: UInt64 in 0..<32 {
            #expect(low.ownsUnit(i) != high.ownsUnit(i))
            #expect(low.ownsUnit(i) == ((i / 4) % 2 == 0))
        }
    }

    @Test("horizon: future units are reservable up to the window, not past the limit")
    func horizon() throws {
        let pool = KeyPool(capacity: 8, unitSize: 4, ownershipBlock: 1, isLowEnd: true)
        try deliver(pool, 2, from: 0)
        // Owned (even) units before the limit 6: 0, 2, 4.
        #expect(pool.nextAvailable(from: 0, owned: true, limit: 6) == 0)
        #expect(pool.nextAvailable(from: 5, owned: true, limit: 6) == nil)
        #expect(pool.nextAvailable(from: 5, owned: true, limit: 100) == 6)
        // Never past the window end (head + capacity = 8).
        #expect(pool.nextAvailable(from: 7, owned: false, limit: 100) == 7)
        #expect(pool.nextAvailable(from: 8, owned: true, limit: 100) == nil)
        pool.hold(4, holder: 9, as: .bound)
        #expect(pool.nextAvailable(from: 3, owned: true, limit: 8) == 6)
        #expect(pool.state(4) == .bound && pool.holder(4) == 9)
        #expect(!pool.isDelivered(4))
    }

    @Test("a future unit discarded before delivery is wiped when it arrives, and the head passes it")
    func discardFuture() throws {
        let pool = KeyPool(capacity: 8, unitSize: 4, ownershipBlock: 1, isLowEnd: true)
        try deliver(pool, 1, from: 0)
        pool.hold(0, holder: 1, as: .bound)
        pool.hold(1, holder: 1, as: .bound)
        pool.discard(0)
        pool.discard(1)
        #expect(pool.head == 1)
        try deliver(pool, 1, from: 1)
        #expect(pool.head == 2)
        #expect(pool.discardedUnits == 2)
        #expect(pool.heldUnits == 0)
    }

    @Test("skip discards everything below the resume index, including future units")
    func skip() throws {
        let pool = KeyPool(capacity: 8, unitSize: 4, ownershipBlock: 1, isLowEnd: true)
        try deliver(pool, 3, from: 0)
        pool.hold(5, holder: 2, as: .bound)
        let n = pool.skip(to: 6)
        #expect(n == 6)
        #expect(pool.head == 6 && pool.tail == 6)
        #expect(pool.heldUnits == 0 && pool.availableDelivered == 0)
        #expect(throws: KeyPoolError.outOfOrder(expected: 6, got: 3)) { try deliver(pool, 1, from: 3) }
        try deliver(pool, 8, from: 6)
    }

    @Test("discardAll burns every unconsumed unit ever delivered or referenced, not fresh future ones")
    func discardAll() throws {
        let pool = KeyPool(capacity: 8, unitSize: 4, ownershipBlock: 1, isLowEnd: true)
        try deliver(pool, 4, from: 0)
        pool.hold(1, holder: 3, as: .proposed)
        pool.hold(6, holder: 3, as: .bound)
        #expect(pool.discardAll() == 7)
        #expect(pool.state(7) == .available)
        #expect(pool.heldUnits == 0)
        #expect(pool.head == 4)
        #expect(pool.state(6) == .discarded)
    }
}

@Suite("Tables and paths")
struct TableTests {
    @Test("slot index: insert, find, remove under collisions, and full is reported")
    func slotIndex() {
        let idx = SlotIndex(capacity: 64)
        for i in 0..<64 {
            #expect(idx.insert(RequestID(source: NodeID(UInt32(i % 3 + 1)), serial: UInt32(i)), UInt8(i % 4), slot: i))
        }
        #expect(!idx.insert(RequestID(source: NodeID(9), serial: 9), 0, slot: 99))
        for i in stride(from: 0, to: 64, by: 2) {
            idx.remove(RequestID(source: NodeID(UInt32(i % 3 + 1)), serial: UInt32(i)), UInt8(i % 4))
        }
        for i in 0..<64 {
            let found = idx.find(RequestID(source: NodeID(UInt32(i % 3 + 1)), serial: UInt32(i)), UInt8(i % 4))
            #expect(found == (i % 2 == 0 ? nil : i))
        }
        #expect(idx.count == 32)
    }

    @Test("slot allocator runs out with nil, not a trap")
    func allocator() {
        let a = SlotAllocator(capacity: 3)
        #expect(a.take() != nil && a.take() != nil && a.take() != nil)
        #expect(a.take() == nil)
        a.give(1)
        #expect(a.take() == 1)
    }

    @Test("paths: loops, length and zero nodes are typed errors")
    func paths() throws {
        #expect(throws: PathError.loop) { try Path([1, 2, 1].map { NodeID(UInt32($0)) }) }
        #expect(throws: PathError.tooShort) { try Path([NodeID(1)]) }
        #expect(throws: PathError.invalidNode) { try Path([NodeID(1), NodeID(0)]) }
        #expect(throws: PathError.tooLong) { try Path((1...18).map { NodeID(UInt32($0)) }) }
        let p = try Path((1...17).map { NodeID(UInt32($0)) })
        #expect(p.hops == 16)
        #expect(p.link(3) == LinkID(NodeID(4), NodeID(5)))
    }

    @Test("unit runs merge neighbours and report fragmentation")
    func runs() throws {
        var r = UnitRuns()
        for u: UInt64 in [1, 2, 3, 7, 8] { try r.append(u) }
        #expect(r.runCount == 2 && r.unitCount == 5)
        #expect(r.contains(8) && !r.contains(4))
        #expect(throws: UnitRunsError.unordered) { try r.append(5) }
        var f = UnitRuns()
        for k: UInt64 in 0..<8 { try f.append(k * 2) }
        #expect(throws: UnitRunsError.fragmented) { try f.append(100) }
    }
}

@Suite("Routing")
struct RouterTests {
    // 1 - 2 - 4 and 1 - 3 - 4, plus a long detour 1 - 5 - 6 - 4.
    func diamond() throws -> Topology {
        func l(_ a: UInt32, _ b: UInt32) -> TopologyLink {
            TopologyLink(a: NodeID(a), b: NodeID(b), unitsPerSecond: 100, delay: 1_000_000)
        }
        return try Topology(
            nodes: (1...6).map { NodeID($0) },
            links: [l(1, 2), l(2, 4), l(1, 3), l(3, 4), l(1, 5), l(5, 6), l(6, 4)])
    }

    @Test("k paths prefer link-disjoint routes, shortest first")
    func disjoint() throws {
        let r = Router(topology: try diamond())
        var out = InlineArray<4, Path>(repeating: Path())
        let n = r.paths(from: NodeID(1), to: NodeID(4), units: 1, keyAware: false, count: 3, into: &out)
        #expect(n == 3)
        #expect(out[0].hops == 2 && out[1].hops == 2 && out[2].hops == 3)
        #expect(out[0] != out[1])
    }

    /// A search touches only the nodes it reaches: results must not depend on what earlier searches left
    /// behind, and the first of k paths is the one path asked for alone (least-delay routing searches
    /// the further candidates later, expecting the same list).
    @Test("searches do not depend on earlier ones; the first of k paths is the single path")
    func searchesAreIndependent() throws {
        let t = try diamond()
        let used = Router(topology: t)
        for s in t.nodes {
            for d in t.nodes where d != s {
                var many = InlineArray<4, Path>(repeating: Path())
                var again = InlineArray<4, Path>(repeating: Path())
                var fresh = InlineArray<4, Path>(repeating: Path())
                var one = InlineArray<4, Path>(repeating: Path())
                let n = used.paths(from: s, to: d, units: 1, keyAware: false, count: 3, into: &many)
                #expect(n >= 1)
                #expect(used.paths(from: s, to: d, units: 1, keyAware: false, count: 1, into: &one) == 1)
                #expect(one[0] == many[0], "\(s) → \(d)")
                #expect(used.paths(from: s, to: d, units: 1, keyAware: false, count: 3, into: &again) == n)
                #expect(Router(topology: t).paths(from: s, to: d, units: 1, keyAware: false, count: 3, into: &fresh) == n)
                for i in 0..<n {
                    #expect(again[i] == many[i] && fresh[i] == many[i], "\(s) → \(d), path \(i)")
                }
            }
        }
        // A node an earlier search reached is not mistaken for one this search reached: from the isolated
        // node 3, node 2 (whose distance the search from 1 left finite) is unreachable.
        let apart = try Topology(
            nodes: [NodeID(1), NodeID(2), NodeID(3)],
            links: [TopologyLink(a: NodeID(1), b: NodeID(2), unitsPerSecond: 1, delay: 1)])
        let r = Router(topology: apart)
        var out = InlineArray<4, Path>(repeating: Path())
        #expect(r.paths(from: NodeID(1), to: NodeID(2), units: 1, keyAware: false, count: 1, into: &out) == 1)
        #expect(r.paths(from: NodeID(3), to: NodeID(2), units: 1, keyAware: false, count: 1, into: &out) == 0)
        #expect(r.paths(from: NodeID(2), to: NodeID(3), units: 1, keyAware: false, count: 3, into: &out) == 0)
    }

    /// After 2³² searches the generation wraps: the stamps are cleared once and searches stay right.
    @Test("searches stay right across the generation's wrap-around")
    func generationWraps() throws {
        let t = try diamond()
        let r = Router(topology: t)
        r.setSearchGeneration(UInt32.max - 2)
        for round in 0..<3 {
            for s in t.nodes {
                for d in t.nodes where d != s {
                    var got = InlineArray<4, Path>(repeating: Path())
                    var want = InlineArray<4, Path>(repeating: Path())
                    let n = r.paths(from: s, to: d, units: 1, keyAware: false, count: 3, into: &got)
                    #expect(Router(topology: t).paths(from: s, to: d, units: 1, keyAware: false, count: 3, into: &want) == n)
                    for i in 0..<n { #expect(got[i] == want[i], "round \(round), \(s) → \(d), path \(i)") }
                }
            }
        }
    }

    @Test("key-aware cost avoids a link without key")
    func keyAware() throws {
        let t = try diamond()
        let r = Router(topology: t)
        for i in 0..<t.links.count { r.update(link: i, level: 100, rate: 100) }
        r.update(link: t.index(of: LinkID(NodeID(2), NodeID(4)))!, level: 0, rate: 1)
        r.update(link: t.index(of: LinkID(NodeID(3), NodeID(4)))!, level: 0, rate: 1)
        var out = InlineArray<4, Path>(repeating: Path())
        #expect(r.paths(from: NodeID(1), to: NodeID(4), units: 4, keyAware: true, count: 1, into: &out) == 1)
        #expect(out[0].hops == 3)
        #expect(r.paths(from: NodeID(1), to: NodeID(4), units: 4, keyAware: false, count: 1, into: &out) == 1)
        #expect(out[0].hops == 2)
    }

    @Test("a malformed topology is refused naming the problem")
    func badTopology() {
        #expect(throws: ConfigurationError.self) {
            try Topology(nodes: [NodeID(1)], links: [TopologyLink(a: NodeID(1), b: NodeID(2), unitsPerSecond: 1, delay: 0)])
        }
        #expect(throws: ConfigurationError.self) {
            try Topology(nodes: [NodeID(1), NodeID(1)], links: [])
        }
    }
}

@Suite("Key pool consumption guard")
struct ConsumeGuardTests {
    @Test("a unit bound to another request, or not delivered, is never used: it is discarded")
    func wrongHolder() throws {
        let pool = KeyPool(capacity: 8, unitSize: 4, ownershipBlock: 1, isLowEnd: true)
        let bytes: [UInt8] = Array(1...8)
        let r = bytes.withUnsafeBytes { p -> KeyPoolError? in
            do throws(KeyPoolError) { try pool.deliver(index: 0, bytes: p) } catch { return error }
            return nil
        }
        #expect(r == nil)
        pool.hold(0, holder: 5, as: .bound)
        pool.hold(1, holder: 6, as: .bound)
        var out = [UInt8](repeating: 0, count: 4)
        let used = out.withUnsafeMutableBytes { pool.consume(0, holder: 6, xorInto: $0, at: 0) }
        #expect(!used)
        #expect(out == [0, 0, 0, 0])
        #expect(pool.state(0) == .discarded)
        pool.hold(3, holder: 6, as: .bound)
        #expect(!out.withUnsafeMutableBytes { pool.consume(3, holder: 6, xorInto: $0, at: 0) })
        #expect(out.withUnsafeMutableBytes { pool.consume(1, holder: 6, xorInto: $0, at: 0) })
        #expect(out == [5, 6, 7, 8])
    }
}

@Suite("KeyPool.discardAvailable")
struct KeyPoolDiscardAvailableTests {
    func pool() throws -> KeyPool {
        let p = KeyPool(capacity: 16, unitSize: 32, ownershipBlock: 4, isLowEnd: true)
        let bytes = [UInt8](repeating: 7, count: 8 * 32)
        let result: Result<Int, KeyPoolError> = bytes.withUnsafeBytes { b in
            do throws(KeyPoolError) { return .success(try p.deliver(index: 0, bytes: b)) } catch { return .failure(error) }
        }
        _ = try result.get()
        return p
    }

    @Test("units held by requests stay; available ones below the index are discarded; the head moves over them")
    func keepsHeld() throws {
        let p = try pool()
        p.hold(2, holder: 5, as: .bound)
        let n = p.discardAvailable(below: 6)
        #expect(n == 5)  // 0, 1, 3, 4, 5
        #expect(p.state(2) == .bound && p.holder(2) == 5)
        #expect(p.state(0) == .discarded && p.state(5) == .discarded && p.state(6) == .available)
        #expect(p.head == 2)  // pinned by the held unit, not past it
        #expect(p.tail == 8)
    }

    @Test("with nothing held it is a skip: the tail moves too")
    func skipWhenNothingHeld() throws {
        let p = try pool()
        #expect(p.discardAvailable(below: 20) == 16)  // the whole window: 8 delivered, 8 future
        #expect(p.head == 20 && p.tail == 20)
    }
}
