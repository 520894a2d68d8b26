public import AKRPEngine

/// A zero-allocation driver for benchmarks: a 4-hop line of real engines in one process, a fixed ring
/// of in-flight messages, and devices that refill each link with exactly the key a request consumed.
/// ``runOneRequest()`` performs one complete request life cycle (reserve → confirm → commit with
/// shares → deliver at both ends) and returns how many input events the engines handled.
public final class LifecycleBench {
    /// The engines of the line, node 1 first.
    public let engines: [Engine]
    /// The line's topology.
    public let topology: Topology
    /// The engines' configuration (the defaults).
    public let configuration: EngineConfiguration
    let outbox: Outbox
    let ringCapacity = 1024
    let ring: UnsafeMutablePointer<Message>
    let payloadBytes: UnsafeMutableRawBufferPointer
    let maxPayload: Int
    var head = 0
    var count = 0
    let keyBuffer: UnsafeMutableRawBufferPointer
    var deviceNext: [UInt64]
    /// Units of key each request asks for.
    public let unitsPerRequest: Int
    /// Requests delivered at both ends so far.
    public private(set) var delivered = 0
    /// Input events the engines handled so far.
    public private(set) var events = 0
    var time: Nanoseconds = 1_000_000
    var pendingKeys = 0

    /// Builds the line 1-2-3-4-5 with the default configuration and completes the link handshakes.
    public init(hops: Int = 4, unitsPerRequest: Int = 8) throws(ConfigurationError) {
        self.unitsPerRequest = unitsPerRequest
        let n = hops + 1
        topology = try Topology(
            nodes: (1...n).map { NodeID(UInt32($0)) },
            links: (1..<n).map {
                TopologyLink(a: NodeID(UInt32($0)), b: NodeID(UInt32($0 + 1)), unitsPerSecond: 1e6, delay: 1_000_000)
            })
        var c = EngineConfiguration()
        c.linkStateInterval = 0
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
        keyBuffer.initializeMemory(as: UInt8.self, repeating: 0xA5)
        deviceNext = Array(repeating: 0, count: topology.links.count * 2)
        for i in 0..<engines.count {
            engines[i].start(now: time, outbox: outbox)
            drain()
        }
        pump()
        // Fill every pool to half its capacity.
        for l in 0..<topology.links.count { supply(link: l, units: c.poolCapacity / 2) }
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
                let p = outbox.payload(k)
                if p.count > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: payloadBytes[(slot * maxPayload)..<(slot * maxPayload + p.count)])
                        .copyMemory(from: p)
                }
                count += 1
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

    /// Hands `units` more key units of link `l` to both ends.
    func supply(link l: Int, units: Int) {
        let link = topology.links[l].id
        var end = 0
        while end < 2 {
            let node = end == 0 ? link.low : link.high
            let peer = end == 0 ? link.high : link.low
            let bytes = UnsafeRawBufferPointer(rebasing: keyBuffer[0..<(units * configuration.unitSize)])
            do throws(KeyPoolError) {
                try engines[index(of: node)].deliverKey(
                    from: peer, index: deviceNext[l * 2 + end], bytes: bytes, now: time, outbox: outbox)
                deviceNext[l * 2 + end] += UInt64(units)
            } catch {}
            events += 1
            drain()
            end += 1
        }
    }

    /// One complete request life cycle from node 1 to the last node. Returns the input events handled.
    @discardableResult
    public func runOneRequest() -> Int {
        let before = events
        let target = delivered + 1
        time += 1_000
        do throws(RequestError) {
            _ = try engines[0].request(
                destination: topology.nodes[topology.nodes.count - 1], units: unitsPerRequest, now: time, outbox: outbox)
        } catch {}
        events += 1
        drain()
        pump()
        // Replace the key the request consumed, as the devices would.
        var l = 0
        while l < topology.links.count {
            supply(link: l, units: unitsPerRequest)
            l += 1
        }
        pump()
        precondition(delivered == target, "benchmark request was not delivered")
        return events - before
    }
}
