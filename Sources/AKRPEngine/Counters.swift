/// Counters of one engine, for metrics and tests. Plain integers, bumped on hot paths.
public struct EngineCounters: Sendable, Equatable {
    public var messagesReceived: UInt64 = 0
    public var messagesSent: UInt64 = 0
    public var requestsStarted: UInt64 = 0
    public var requestsAccepted: UInt64 = 0
    public var requestsFailed: UInt64 = 0
    public var keysDeliveredAsSource: UInt64 = 0
    public var keysDeliveredAsDestination: UInt64 = 0
    public var branchesLaunched: UInt64 = 0
    public var branchesReleased: UInt64 = 0
    public var reroutes: UInt64 = 0
    /// Branches launched on a path longer than the direct one, limited to `detourBudget`.
    public var detourBranches: UInt64 = 0
    /// Units whose owner's binding overrode a local proposal or binding (CD&R conflicts).
    public var conflictsResolved: UInt64 = 0
    /// Units the downstream end replaced with its own (CD&R substitutions).
    public var unitsSubstituted: UInt64 = 0
    public var unitsConsumed: UInt64 = 0
    public var unitsDiscarded: UInt64 = 0
    public var sharesSent: UInt64 = 0
    public var peerRestarts: UInt64 = 0
    public var leaseExpiries: UInt64 = 0
    public var abortsSent: UInt64 = 0
    /// Key units spent authenticating frames sent to / accepted from neighbours (one unit per frame).
    public var authenticationUnitsSent: UInt64 = 0
    public var authenticationUnitsReceived: UInt64 = 0
    /// Delivered units a committed request yielded (moving to later units) to requests that can use them now.
    public var unitsYielded: UInt64 = 0
    /// Units found not bound to the consuming request at consumption time, and committed unit lists a
    /// downstream end could not adopt: the units are discarded and the key abandoned, never used.
    /// Without faults this stays zero; message loss can make an adoption fail (see docs/PROTOCOL.md).
    public var consistencyFaults: UInt64 = 0
    /// Refusals of inputs, indexed by ``InputRejection`` raw value.
    public var rejections = InlineArray<24, UInt64>(repeating: 0)
    /// Failures of branches at this node, indexed by ``FailReason`` raw value.
    public var failures = InlineArray<16, UInt64>(repeating: 0)

    public init() {}

    /// Refusals of one kind.
    public func rejected(_ r: InputRejection) -> UInt64 { rejections[Int(r.rawValue)] }
    /// Total refusals.
    public var totalRejections: UInt64 {
        var t: UInt64 = 0
        var i = 0
        while i < 24 { t += rejections[i]; i += 1 }
        return t
    }
    public static func == (a: EngineCounters, b: EngineCounters) -> Bool {
        guard a.messagesReceived == b.messagesReceived, a.messagesSent == b.messagesSent,
            a.unitsConsumed == b.unitsConsumed, a.unitsDiscarded == b.unitsDiscarded
        else { return false }
        var i = 0
        while i < 24 {
            if a.rejections[i] != b.rejections[i] { return false }
            i += 1
        }
        return true
    }
}

/// Why a local key request was refused at once.
public enum RequestError: Error, Sendable, Equatable {
    case unknownDestination
    case destinationIsSelf
    case badSize
    case tableFull
    case noRoute
}
