public import AKRPEngine

/// A zero-allocation driver for benchmarks under contention: the 4-node ring 1-2-3-4-1, where node 1
/// asks for key to node 3 and node 3 to node 1 at the same instant, each over both paths (multipath),
/// so that on every link the two ends reserve at once and CD&R resolves conflicts. Link state is
/// flooded. The devices deliver key in blocks every 50 ms: node 1's links get less than the requests
/// consume, node 3's links more, so that paths wait for future key on node 1's side and their branches
/// yield the delivered units they hold on node 3's side at commit (fine-grained competition).
///
/// ``runOneRound()`` issues the two requests and runs 100 ms of network time (ticks every 10 ms,
/// messages delivered at once, two key blocks); it returns how many input events the engines handled.
/// Setup and the first rounds allocate (tables, first use); the rounds after must not.
public final class ContendedBench {
    /// The four engines, node 1 first.
    public let engines: [Engine]
    /// The ring 1-2-3-4-1 (1,000 units/s per link nominal, 1 ms one-way delay).
    public let topology: Topology
    /// Every engine's configuration: 512-unit pools, ownership blocks of 4, 2 paths, link state every
    /// 200 ms (checked every 20 ms), no detour restriction.
    public let configuration: EngineConfiguration
    let outbox: Outbox
    let ringCapacity = 4096
    let ring: UnsafeMutablePointer<Message>
    let payloadBytes: UnsafeMutableRawBufferPointer
    let maxPayload: Int
    var head = 0
    var count = 0
    let keyBuffer: UnsafeMutableRawBufferPointer
    var deviceNext: [UInt64]
    /// Units per request.
    public let unitsPerRequest: Int
    /// Units each end of node 3's links receives per 50 ms block.
    public let blockUnits: Int
    /// Units each end of node 1's links receives per 50 ms block.
    public let scarceBlockUnits: Int
    /// Keys delivered at their destination so far.
    public private(set) var delivered = 0
    /// Input events the engines handled so far.
    public private(set) var events = 0
    /// Link-state announcements the engines sent so far.
    public private(set) var linkStateMessages = 0
    /// Messages that found the ring full (a benchmark that drops messages measures nothing: stays 0).
    public private(set) var ringOverflows = 0
    var time: Nanoseconds = 1_000_000

    /// Builds the ring with multipath (2 paths) and link state on, and completes the link handshakes.
    public init(unitsPerRequest: Int = 8, blockUnits: Int = 6, scarceBlockUnits: Int = 3) throws(ConfigurationError) {
        self.unitsPerRequest = unitsPerRequest
        self.blockUnits = blockUnits
        self.scarceBlockUnits = scarceBlockUnits
        let ids = (1...4).map { NodeID(UInt32($0)) }
        topology = try Topology(
            nodes: ids,
            links: (0..<4).map {
                TopologyLink(a: ids[$0], b: ids[($0 + 1) % 4], unitsPerSecond: 1_000, delay: 1_000_000)
            })
        var c = EngineConfiguration()
        c.poolCapacity = 512
        c.ownershipBlock = 4
        c.paths = 2
        c.linkStateInterval = 200_000_000
        c.linkStateCheckInterval = 20_000_000
        c.detourBudget = nil
        configuration = c
        var e: [Engine] = []
        for node in topology.nodes {
            e.append(try Engine(node: node, topology: topology, configuration: c, incarnation: 1))
        }
        engines = e
        outbox = Outbox(for: c)
        ring = .allocate(capacity: ringCapacity)
        ring.initialize(repeating: Message(kind: .hello), count: ringCapacity)
        maxPayload = c.maxRequestUnits * c.unitSize
        payloadBytes = .allocate(byteCount: ringCapacity * maxPayload, alignment: 16)
        payloadBytes.initializeMemory(as: UInt8.self, repeating: 0)
        keyBuffer = .allocate(byteCount: c.poolCapacity * c.unitSize, alignment: 16)
        keyBuffer.initializeMemory(as: UInt8.self, repeating: 0x5A)
        deviceNext = Array(repeating: 0, count: topology.links.count * 2)
        for i in 0..<engines.count {
            engines[i].start(now: time, outbox: outbox)
            drain()
        }
        pump()
        for l in 0..<topology.links.count { supply(link: l, units: 64) }
        pump()
    }

    deinit {
        ring.deinitialize(count: ringCapacity)
        ring.deallocate()
        payloadBytes.deallocate()
        keyBuffer.deallocate()
    }

    @inline(__always)
    func index(of node: NodeID) -> Int { Int(node.rawValue) - 1 }

    /// Moves the outbox into the ring.
    func drain() {
        var k = 0
        while k < outbox.messageCount {
            if count < ringCapacity {
                let slot = (head + count) % ringCapacity
                ring[slot] = outbox.message(k)
                if ring[slot].kind == .linkState { linkStateMessages += 1 }
                let p = outbox.payload(k)
                if p.count > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: payloadBytes[(slot * maxPayload)..<(slot * maxPayload + p.count)])
                        .copyMemory(from: p)
                }
                count += 1
            } else {
                ringOverflows += 1
            }
            k += 1
        }
        var j = 0
        while j < outbox.eventCount {
            let e = outbox.event(j)
            if e.kind == .keyDelivered && e.role == .destination { delivered += 1 }
            j += 1
        }
        outbox.clear()
    }

    /// Delivers every message in the ring.
    func pump() {
        while count > 0 {
            let m = ring[head]
            let len = Int(m.payloadLength)
            let p = UnsafeRawBufferPointer(rebasing: payloadBytes[(head * maxPayload)..<(head * maxPayload + len)])
            head = (head + 1) % ringCapacity
            count -= 1
            engines[index(of: m.to)].receive(m, payload: p, now: time, outbox: outbox)
            events += 1
            drain()
        }
    }

    /// Hands up to `units` more key units of link `l` to both ends (as many as the pools have room for).
    func supply(link l: Int, units: Int) {
        let link = topology.links[l].id
        var end = 0
        while end < 2 {
            let node = end == 0 ? link.low : link.high
            let peer = end == 0 ? link.high : link.low
            let engine = engines[index(of: node)]
            let n = min(units, engine.pool(toward: peer)?.room ?? 0)
            if n > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: keyBuffer[0..<(n * configuration.unitSize)])
                do throws(KeyPoolError) {
                    try engine.deliverKey(from: peer, index: deviceNext[l * 2 + end], bytes: bytes, now: time, outbox: outbox)
                    deviceNext[l * 2 + end] += UInt64(n)
                } catch {}
                events += 1
                drain()
            }
            end += 1
        }
    }

    /// Runs every engine's timers.
    func tickAll() {
        var i = 0
        while i < engines.count {
            engines[i].tick(now: time, outbox: outbox)
            events += 1
            drain()
            i += 1
        }
    }

    /// One round: node 1 → node 3 and node 3 → node 1 at once, then 100 ms of network time.
    /// Returns the input events handled.
    @discardableResult
    public func runOneRound() -> Int {
        let before = events
        time += 1_000
        // Both requests leave before either end sees the other's reserve: they cross on every link.
        do throws(RequestError) {
            _ = try engines[0].request(destination: topology.nodes[2], units: unitsPerRequest, now: time, outbox: outbox)
        } catch {}
        events += 1
        drain()
        do throws(RequestError) {
            _ = try engines[2].request(destination: topology.nodes[0], units: unitsPerRequest, now: time, outbox: outbox)
        } catch {}
        events += 1
        drain()
        pump()
        var step = 1
        while step <= 10 {
            time += 10_000_000
            if step == 5 || step == 10 {
                var l = 0
                while l < topology.links.count {
                    let scarce = topology.links[l].id.low == topology.nodes[0]
                    supply(link: l, units: scarce ? scarceBlockUnits : blockUnits)
                    l += 1
                }
            }
            tickAll()
            pump()
            step += 1
        }
        return events - before
    }
}
