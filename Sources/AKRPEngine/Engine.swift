/// The AKRP protocol engine of one node: sans-I/O, fixed memory.
///
/// The shell feeds it local key requests, messages from neighbours, key units delivered by the link
/// devices, and time; the engine writes messages, delivered keys and events into a caller-provided
/// ``Outbox``. It never reads a clock and allocates nothing after ``init(node:topology:configuration:incarnation:)``.
/// Same inputs in the same order give the same outputs. The protocol is specified in `docs/PROTOCOL.md`.
public final class Engine {
    /// The node this engine runs.
    public let node: NodeID
    /// This run of the node: distinct and increasing across restarts.
    public let incarnation: UInt64
    /// The configuration every table and pool was sized from; only the admission settings change after
    /// start (``tuneAdmission(latencyBudget:yieldMargin:)``).
    public internal(set) var configuration: EngineConfiguration
    /// The network as configured (nodes, links, rates, delays).
    public let topology: Topology
    /// The path search over `topology` with key-aware costs.
    public let router: Router
    /// Counters live behind a pointer: bumping them on hot paths needs no exclusivity check.
    let countersStorage: UnsafeMutablePointer<EngineCounters>
    /// Counters of this engine.
    public internal(set) var counters: EngineCounters {
        get { countersStorage.pointee }
        _modify { yield &countersStorage.pointee }
        set { countersStorage.pointee = newValue }
    }

    /// One session per neighbour (fixed at start-up), behind a pointer for the same reason.
    let sessions: UnsafeMutablePointer<Session>
    let sessionCount: Int
    /// Held `delivered` notices and link-state announcements (``sendLater(_:_:_:now:hold:)``):
    /// `heldMessagesPerLink` per session, unstamped (the link header is written when they leave, so they
    /// keep the link's sequence order).
    let held: UnsafeMutablePointer<Message>
    /// Messages one link may hold before they all leave at once.
    static let heldMessagesPerLink = 8
    /// The interval between frames a link starts with, and the longest one counted (1 s).
    static let quietFrameInterval: Double = 1_000_000_000
    /// The share of a link's pool, delivered and free, from which its key counts as abundant: reservation
    /// messages on it never wait for company (`frameHold`).
    static let abundantPoolFraction = 0.9
    /// Key pool per session (same index).
    public let pools: [KeyPool]
    let records: UnsafeMutablePointer<Record>
    let recordSlots: SlotAllocator
    let recordIndex: SlotIndex
    /// Highest record slot ever used plus one (timer scans stop there).
    var recordHighWater = 0
    let sources: UnsafeMutablePointer<SourceRequest>
    let sourceSlots: SlotAllocator
    let sourceIndex: SlotIndex
    var sourceHighWater = 0
    /// Destination accumulators: `accumulatorCapacity` buffers of `maxRequestUnits * unitSize` bytes.
    let accumulators: UnsafeMutableRawBufferPointer
    let accumulatorSlots: SlotAllocator
    /// Committed records waiting for key delivery.
    let pending: UnsafeMutablePointer<Int32>
    var pendingCount = 0
    /// Pending completions could not get outbox room: retry them all at the next tick.
    var pendingRetry = false
    /// Link-state serials seen per topology link and end (low = 0, high = 1).
    let linkStateSerials: UnsafeMutablePointer<UInt32>
    var nextSerial: UInt32
    var nextLinkState: Nanoseconds = 0
    /// The time of the engine call in progress (set by every entry point that takes `now`), for sends
    /// that do not carry it.
    var stepNow: Nanoseconds = 0
    /// Earliest time at which ``tick(now:outbox:)`` has work.
    public internal(set) var nextTimer: Nanoseconds = .max
    let keyBytes: Int
    #if AKRP_MUTATIONS
    /// The deliberate fault this engine commits (tests of the checkers only; absent from release builds).
    public var mutation: EngineMutation = .none
    #endif

    /// Creates the engine of `node`, allocating every table and pool.
    /// - Parameter incarnation: distinct and increasing across restarts of this node (e.g. a boot counter).
    /// - Throws: ``ConfigurationError`` when the configuration is invalid or the node is not in the topology
    ///   or has more neighbours than `maxNeighbours`.
    public init(
        node: NodeID, topology: Topology, configuration: EngineConfiguration, incarnation: UInt64
    ) throws(ConfigurationError) {
        try configuration.validate()
        guard topology.index(of: node) != nil else { throw .topology("node \(node.rawValue) is not in the topology") }
        guard incarnation > 0 else { throw .invalid(field: "incarnation", reason: "must be positive") }
        self.node = node
        self.incarnation = incarnation
        self.configuration = configuration
        self.topology = topology
        router = Router(topology: topology)
        router.prepareDirectHops(from: node)
        let neighbours = topology.neighbours(of: node)
        guard neighbours.count <= configuration.maxNeighbours else {
            throw .invalid(field: "maxNeighbours", reason: "node \(node.rawValue) has \(neighbours.count) links")
        }
        var sessionList: [Session] = []
        var poolList: [KeyPool] = []
        for (peer, linkIndex) in neighbours {
            let link = topology.links[linkIndex]
            var session = Session(
                peer: peer, link: link.id, topologyIndex: linkIndex, unitInterval: 1e9 / link.unitsPerSecond)
            // Link-state serials continue across restarts: a new incarnation starts far ahead.
            session.linkStateSerial = UInt32(truncatingIfNeeded: incarnation) &<< 20
            sessionList.append(session)
            poolList.append(
                KeyPool(
                    capacity: configuration.poolCapacity, unitSize: configuration.unitSize,
                    ownershipBlock: configuration.ownershipBlock, isLowEnd: node < peer))
        }
        sessionCount = sessionList.count
        sessions = .allocate(capacity: max(1, sessionList.count))
        sessions.initialize(from: sessionList, count: sessionList.count)
        held = .allocate(capacity: max(1, sessionList.count) * Self.heldMessagesPerLink)
        held.initialize(repeating: Message(kind: .delivered), count: max(1, sessionList.count) * Self.heldMessagesPerLink)
        countersStorage = .allocate(capacity: 1)
        countersStorage.initialize(to: EngineCounters())
        pools = poolList
        records = .allocate(capacity: configuration.recordCapacity)
        records.initialize(repeating: Record(), count: configuration.recordCapacity)
        recordSlots = SlotAllocator(capacity: configuration.recordCapacity)
        recordIndex = SlotIndex(capacity: configuration.recordCapacity)
        sources = .allocate(capacity: configuration.sourceCapacity)
        sources.initialize(repeating: SourceRequest(), count: configuration.sourceCapacity)
        sourceSlots = SlotAllocator(capacity: configuration.sourceCapacity)
        sourceIndex = SlotIndex(capacity: configuration.sourceCapacity)
        keyBytes = configuration.maxRequestUnits * configuration.unitSize
        accumulators = .allocate(byteCount: configuration.accumulatorCapacity * keyBytes, alignment: 16)
        accumulators.initializeMemory(as: UInt8.self, repeating: 0)
        accumulatorSlots = SlotAllocator(capacity: configuration.accumulatorCapacity)
        pending = .allocate(capacity: configuration.recordCapacity)
        pending.initialize(repeating: -1, count: configuration.recordCapacity)
        linkStateSerials = .allocate(capacity: max(1, topology.links.count * 2))
        linkStateSerials.initialize(repeating: 0, count: max(1, topology.links.count * 2))
        nextSerial = UInt32(truncatingIfNeeded: incarnation & 0xFFF) << 20
    }

    deinit {
        sessions.deinitialize(count: sessionCount)
        sessions.deallocate()
        held.deinitialize(count: max(1, sessionCount) * Self.heldMessagesPerLink)
        held.deallocate()
        countersStorage.deinitialize(count: 1)
        countersStorage.deallocate()
        wipe(accumulators)
        records.deinitialize(count: configuration.recordCapacity)
        records.deallocate()
        sources.deinitialize(count: configuration.sourceCapacity)
        sources.deallocate()
        accumulators.deallocate()
        pending.deallocate()
        linkStateSerials.deallocate()
    }

    /// Bytes of memory this engine allocated at start-up (pools, tables, buffers).
    public var memoryFootprint: Int {
        Engine.memoryFootprint(configuration: configuration, topology: topology, links: pools.count)
    }

    /// Bytes an engine with `configuration` on `topology` allocates at start-up for a node with `links`
    /// links (to check a configuration fits before building thousands of engines).
    public static func memoryFootprint(configuration c: EngineConfiguration, topology: Topology, links: Int) -> Int {
        let keyBytes = c.maxRequestUnits * c.unitSize
        var total = c.recordCapacity * MemoryLayout<Record>.stride
        total += c.sourceCapacity * MemoryLayout<SourceRequest>.stride
        total += c.accumulatorCapacity * keyBytes
        total += c.recordCapacity * 4 * 2 + c.sourceCapacity * 4 * 2
        total += recordIndexBytes(c.recordCapacity) + recordIndexBytes(c.sourceCapacity)
        total += links * c.poolCapacity * (c.unitSize + 1 + 4)
        // The router: per node distance, predecessor link and node, stamp, hop count; per link penalty,
        // level, rate; its heap holds 2 × links + nodes + 1 entries of 12 bytes.
        total += topology.nodes.count * 33 + topology.links.count * 48 + 16
        total += links * MemoryLayout<Session>.stride
        total += max(1, links) * heldMessagesPerLink * MemoryLayout<Message>.stride
        return total
    }

    private static func recordIndexBytes(_ capacity: Int) -> Int {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        return size * 13
    }
}
