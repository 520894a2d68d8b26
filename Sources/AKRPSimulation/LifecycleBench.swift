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
    /// The engines' configuration (the defaults, but no link state and no frame hold).
    public let configuration: EngineConfiguration
    let outbox: Outbox
    let ringCapacity = 1024
    let ring: UnsafeMutablePointer<Message>
    let payloadBytes: UnsafeMutableRawBufferPointer
    let maxPayload: Int
    let keyBuffer: UnsafeMutableRawBufferPointer
    /// Next unit index each link end's device delivers (link l: low end at 2l, high end at 2l + 1).
    let deviceNext: UnsafeMutablePointer<UInt64>
    /// The driver's mutable counters live behind a pointer: class properties would cost a run-time
    /// exclusivity check on every access, in the loop that is being measured.
    let state: UnsafeMutablePointer<State>
    /// Units of key each request asks for.
    public let unitsPerRequest: Int
    /// Requests delivered at both ends so far.
    public var delivered: Int { state.pointee.delivered }
    /// Input events the engines handled so far.
    public var events: Int { state.pointee.events }

    /// The ring position, the delivery and event counts, and the clock of the driver.
    struct State {
        var head = 0
        var count = 0
        var delivered = 0
        var events = 0
        var time: Nanoseconds = 1_000_000
    }

    /// Builds the line 1-2-3-4-5 with the default configuration (link state and the frame hold off) and
    /// completes the link handshakes.
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
        // The driver runs no timers (it only pumps messages) and starts a request every microsecond, so
        // every link would count as busy and hold its reservation messages for a tick that never comes.
        c.frameHold = 0
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
        deviceNext = .allocate(capacity: topology.links.count * 2)
        deviceNext.initialize(repeating: 0, count: topology.links.count * 2)
        state = .allocate(capacity: 1)
        state.initialize(to: State())
        for i in 0..<engines.count {
            engines[i].start(now: state.pointee.time, outbox: outbox)
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
        deviceNext.deallocate()
        state.deallocate()
    }

    @inline(__always)
    func index(of node: NodeID) -> Int { Int(node.rawValue) - 1 }

    /// Moves the outbox into the ring.
    func drain() {
        var k = 0
        while k < outbox.messageCount {
            if state.pointee.count < ringCapacity {
                let slot = (state.pointee.head + state.pointee.count) % ringCapacity
                ring[slot] = outbox.message(k)
                let p = outbox.payload(k)
                if p.count > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: payloadBytes[(slot * maxPayload)..<(slot * maxPayload + p.count)])
                        .copyMemory(from: p)
                }
                state.pointee.count += 1
            }
            k += 1
        }
        var j = 0
        while j < outbox.eventCount {
            let e = outbox.event(j)
            if e.kind == .keyDelivered && e.role == .destination { state.pointee.delivered += 1 }
            j += 1
        }
        outbox.clear()
    }

    /// Delivers every message in the ring.
    func pump() {
        while state.pointee.count > 0 {
            // The message is handed to the engine from its ring slot (no copy of the value); the slot is
            // only overwritten by the next `drain()`, after `receive` returned.
            let h = state.pointee.head
            let len = Int(ring[h].payloadLength)
            let p = UnsafeRawBufferPointer(rebasing: payloadBytes[(h * maxPayload)..<(h * maxPayload + len)])
            state.pointee.head = (h + 1) % ringCapacity
            state.pointee.count -= 1
            engines[index(of: ring[h].to)].receive(ring[h], payload: p, now: state.pointee.time, outbox: outbox)
            state.pointee.events += 1
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
                    from: peer, index: deviceNext[l * 2 + end], bytes: bytes, now: state.pointee.time, outbox: outbox)
                deviceNext[l * 2 + end] += UInt64(units)
            } catch {}
            state.pointee.events += 1
            drain()
            end += 1
        }
    }

    /// One complete request life cycle from node 1 to the last node. Returns the input events handled.
    @discardableResult
    public func runOneRequest() -> Int {
        let before = state.pointee.events
        let target = state.pointee.delivered + 1
        state.pointee.time += 1_000
        do throws(RequestError) {
            _ = try engines[0].request(
                destination: topology.nodes[topology.nodes.count - 1], units: unitsPerRequest,
                now: state.pointee.time, outbox: outbox)
        } catch {}
        state.pointee.events += 1
        drain()
        pump()
        // Replace the key the request consumed, as the devices would.
        var l = 0
        while l < topology.links.count {
            supply(link: l, units: unitsPerRequest)
            l += 1
        }
        pump()
        precondition(state.pointee.delivered == target, "benchmark request was not delivered")
        return state.pointee.events - before
    }
}
