/// What the engine tells its shell, besides messages.
public enum EngineEventKind: UInt8, Sendable {
    /// A key is ready at this node (`role` source or destination); bytes in the payload arena.
    case keyDelivered
    /// The source committed a branch: the request will be delivered (`time` = expected completion).
    case requestAccepted
    /// The request failed (`reason`), at the source.
    case requestFailed
    /// Units of `link` were consumed here for `request` (`units`).
    case unitsConsumed
    /// `count` units of `link` were discarded here.
    case unitsDiscarded
    /// The destination reported delivery back to the source.
    case destinationConfirmed
    /// An input was rejected (`rejection`).
    case inputRejected
    /// A message could not be queued because the outbox was full (treated as lost).
    case outboxOverflow
}

/// The role of a node in a delivered key.
public enum KeyRole: UInt8, Sendable { case source = 0, destination = 1 }

/// One engine event: a flat value; each kind uses a subset of the fields.
public struct EngineEvent: Sendable, Equatable {
    /// What happened; decides which fields are used.
    public var kind: EngineEventKind
    /// The request the event is about.
    public var request: RequestID = .none
    /// The branch of the request (0 for single path).
    public var branch: UInt8 = 0
    /// Whether a delivered key is the source's or the destination's.
    public var role: KeyRole = .source
    /// Why a request failed (`requestFailed`).
    public var reason: FailReason = .none
    /// Why an input was refused (`inputRejected`).
    public var rejection: InputRejection = .none
    /// The link whose units were consumed or discarded.
    public var link: LinkID = LinkID(.none, .none)
    /// The units consumed or discarded on `link`.
    public var units: UnitRuns = UnitRuns()
    /// A number of units (discards).
    public var count: Int = 0
    /// When it happened, or the expected completion time (`requestAccepted`).
    public var time: Nanoseconds = 0
    /// Where the key bytes of a `keyDelivered` event are in the outbox's payload arena.
    public var payloadOffset: Int = 0
    /// Length of the key bytes of a `keyDelivered` event in the payload arena.
    public var payloadLength: Int = 0
    /// The path of the branch a key came over.
    public var path: Path = Path()
    /// An event of `kind` with every other field empty.
    public init(kind: EngineEventKind) {
        // A copy of an empty event built once: cheaper than building the inline arrays every time.
        self = EngineEvent.empty
        self.kind = kind
    }

    private init(emptyOfKind kind: EngineEventKind) { self.kind = kind }

    private static let empty = EngineEvent(emptyOfKind: .inputRejected)
}

/// The typed reason an input was refused. Every refusal is counted by reason.
public enum InputRejection: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case unknownNeighbour
    case staleIncarnation
    case wrongIncarnation
    case duplicateOrStale
    case linkNotUp
    case badPath
    case notOnPath
    case wrongHop
    case tooLarge
    case unitCountMismatch
    case unitsOutsideWindow
    case unknownRequest
    case duplicateRequest
    case wrongState
    case badPayload
    case duplicateShare
    case unknownLink
    case notStarted
    case deliveryRejected

    /// The reason as a short hyphenated name.
    public var description: String {
        switch self {
        case .none: "none"
        case .unknownNeighbour: "unknown-neighbour"
        case .staleIncarnation: "stale-incarnation"
        case .wrongIncarnation: "wrong-incarnation"
        case .duplicateOrStale: "duplicate-or-stale"
        case .linkNotUp: "link-not-up"
        case .badPath: "bad-path"
        case .notOnPath: "not-on-path"
        case .wrongHop: "wrong-hop"
        case .tooLarge: "too-large"
        case .unitCountMismatch: "unit-count-mismatch"
        case .unitsOutsideWindow: "units-outside-window"
        case .unknownRequest: "unknown-request"
        case .duplicateRequest: "duplicate-request"
        case .wrongState: "wrong-state"
        case .badPayload: "bad-payload"
        case .duplicateShare: "duplicate-share"
        case .unknownLink: "unknown-link"
        case .notStarted: "not-started"
        case .deliveryRejected: "delivery-rejected"
        }
    }
}

/// The caller-provided, fixed-capacity output of engine calls: messages to neighbours (with their key
/// payloads), and events. The shell drains it after each call and calls ``clear()``.
public final class Outbox {
    /// Messages one engine call may write.
    public let messageCapacity: Int
    /// Events one engine call may write.
    public let eventCapacity: Int
    /// Bytes for key payloads and delivered keys.
    public let arenaCapacity: Int
    /// The fill levels and drop counts live behind a pointer: a shell reads them after every engine call,
    /// and as class properties each read from another module would be a run-time exclusivity check.
    @usableFromInline let fill: UnsafeMutablePointer<OutboxFill>
    /// Messages written since the last ``clear()``.
    @inlinable public var messageCount: Int { fill.pointee.messageCount }
    /// Events written since the last ``clear()``.
    @inlinable public var eventCount: Int { fill.pointee.eventCount }
    @usableFromInline let messages: UnsafeMutablePointer<Message>
    @usableFromInline let payloadOffsets: UnsafeMutablePointer<Int>
    @usableFromInline let events: UnsafeMutablePointer<EngineEvent>
    @usableFromInline let arena: UnsafeMutableRawBufferPointer
    /// Messages dropped because the outbox was full (they count as lost on the network).
    public var droppedMessages: UInt64 { fill.pointee.droppedMessages }
    /// Events dropped because the outbox was full.
    public var droppedEvents: UInt64 { fill.pointee.droppedEvents }

    /// Allocates the outbox once.
    public init(messageCapacity: Int, eventCapacity: Int, arenaBytes: Int) {
        self.messageCapacity = messageCapacity
        self.eventCapacity = eventCapacity
        self.arenaCapacity = arenaBytes
        messages = .allocate(capacity: messageCapacity)
        messages.initialize(repeating: Message(kind: .hello), count: messageCapacity)
        payloadOffsets = .allocate(capacity: messageCapacity)
        payloadOffsets.initialize(repeating: 0, count: messageCapacity)
        events = .allocate(capacity: eventCapacity)
        events.initialize(repeating: EngineEvent(kind: .inputRejected), count: eventCapacity)
        arena = .allocate(byteCount: max(arenaBytes, 1), alignment: 16)
        arena.initializeMemory(as: UInt8.self, repeating: 0)
        fill = .allocate(capacity: 1)
        fill.initialize(to: OutboxFill())
    }

    /// An outbox sized for `configuration`.
    public convenience init(for configuration: EngineConfiguration) {
        let perKey = configuration.maxRequestUnits * configuration.unitSize
        self.init(
            messageCapacity: configuration.outboxCapacity,
            eventCapacity: configuration.eventCapacity,
            arenaBytes: perKey * 64)
    }

    deinit {
        wipe(arena)
        messages.deinitialize(count: messageCapacity)
        messages.deallocate()
        payloadOffsets.deallocate()
        events.deinitialize(count: eventCapacity)
        events.deallocate()
        arena.deallocate()
        fill.deallocate()
    }

    /// Empties the outbox and wipes the key bytes it carried.
    public func clear() {
        let used = fill.pointee.arenaUsed
        if used > 0 { wipe(UnsafeMutableRawBufferPointer(rebasing: arena[0..<used])) }
        fill.pointee.messageCount = 0
        fill.pointee.eventCount = 0
        fill.pointee.arenaUsed = 0
    }

    // The read accessors are inlinable so that a shell copies a message or an event once (from the
    // outbox into its own storage), not twice through a returned temporary.

    /// The `i`-th message.
    @inlinable public func message(_ i: Int) -> Message { messages[i] }

    /// The key payload of the `i`-th message (empty for most kinds). Valid until ``clear()``.
    @inlinable public func payload(_ i: Int) -> UnsafeRawBufferPointer {
        let n = Int(messages[i].payloadLength)
        guard n > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: arena[payloadOffsets[i]..<(payloadOffsets[i] + n)])
    }

    /// The `i`-th event.
    @inlinable public func event(_ i: Int) -> EngineEvent { events[i] }

    /// Key bytes of a `keyDelivered` event. Valid until ``clear()``.
    public func keyBytes(of event: EngineEvent) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: arena[event.payloadOffset..<(event.payloadOffset + event.payloadLength)])
    }

    // MARK: engine side

    /// Whether `count` more bytes of arena are free.
    func canReserve(_ count: Int) -> Bool { fill.pointee.arenaUsed + count <= arenaCapacity }

    /// Reserves `count` zeroed bytes of arena; nil when the arena is full.
    func reserveBytes(_ count: Int) -> (offset: Int, buffer: UnsafeMutableRawBufferPointer)? {
        let off = fill.pointee.arenaUsed
        guard off + count <= arenaCapacity else { return nil }
        fill.pointee.arenaUsed = off + count
        let buf = UnsafeMutableRawBufferPointer(rebasing: arena[off..<(off + count)])
        buf.initializeMemory(as: UInt8.self, repeating: 0)
        return (off, buf)
    }

    /// Appends a message whose payload (if any) lives at `payloadOffset`. Returns false when full.
    @discardableResult
    func push(_ m: Message, payloadOffset: Int = 0) -> Bool {
        let n = fill.pointee.messageCount
        guard n < messageCapacity else {
            fill.pointee.droppedMessages += 1
            return false
        }
        messages[n] = m
        payloadOffsets[n] = payloadOffset
        fill.pointee.messageCount = n + 1
        return true
    }

    func push(event e: EngineEvent) {
        let n = fill.pointee.eventCount
        guard n < eventCapacity else {
            fill.pointee.droppedEvents += 1
            return
        }
        events[n] = e
        fill.pointee.eventCount = n + 1
    }
}

/// How full an ``Outbox`` is, and what it dropped.
@usableFromInline
struct OutboxFill {
    @usableFromInline var messageCount = 0
    @usableFromInline var eventCount = 0
    var arenaUsed = 0
    var droppedMessages: UInt64 = 0
    var droppedEvents: UInt64 = 0
    @usableFromInline init() {}
}
