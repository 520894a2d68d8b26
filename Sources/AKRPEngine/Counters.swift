/// Counters of one engine, for metrics and tests. Plain integers, bumped on hot paths.
public struct EngineCounters: Sendable, Equatable {
    /// Messages from neighbours handed to the engine (accepted or refused).
    public var messagesReceived: UInt64 = 0
    /// Messages the engine wrote to the outbox for neighbours.
    public var messagesSent: UInt64 = 0
    /// Key requests this node accepted from its shell as their source.
    public var requestsStarted: UInt64 = 0
    /// Source requests committed (a branch chosen; `requestAccepted` emitted).
    public var requestsAccepted: UInt64 = 0
    /// Source requests that ended without a key (`requestFailed` emitted).
    public var requestsFailed: UInt64 = 0
    /// End-to-end keys delivered at this node as the source.
    public var keysDeliveredAsSource: UInt64 = 0
    /// End-to-end keys delivered at this node as the destination.
    public var keysDeliveredAsDestination: UInt64 = 0
    /// Branches (reservations along one path) this node started as a source.
    public var branchesLaunched: UInt64 = 0
    /// Release messages sent downstream for branches given up before commit (multipath losers, failures).
    public var branchesReleased: UInt64 = 0
    /// Single-path requests retried on another path after a refusal.
    public var reroutes: UInt64 = 0
    /// Branches launched on a path longer than the direct one, limited to `detourBudget`.
    public var detourBranches: UInt64 = 0
    /// Detours not launched because link state put a later hop short of delivered key (§10.1).
    public var detoursSkipped: UInt64 = 0
    /// Units whose owner's binding overrode a local proposal or binding (CD&R conflicts).
    public var conflictsResolved: UInt64 = 0
    /// `delivered` notices that waited for another message to the same neighbour (`deliveredHold`).
    public var deliveredNoticesHeld: UInt64 = 0
    /// Link-state announcements (own or forwarded) that waited for another message to the same neighbour
    /// (`linkStateHold`).
    public var linkStatesHeld: UInt64 = 0
    /// Held link-state announcements replaced by a newer one about the same link before they left: never
    /// sent.
    public var linkStatesSuperseded: UInt64 = 0
    /// `reserve`, `confirm` and `fail` messages that waited on a busy link for others to share their frame
    /// (`frameHold`).
    public var reservationMessagesHeld: UInt64 = 0
    /// Units the downstream end replaced with its own (CD&R substitutions).
    public var unitsSubstituted: UInt64 = 0
    /// Units consumed into keys and shares (authentication units are counted apart).
    public var unitsConsumed: UInt64 = 0
    /// Units discarded: never used, because one end could no longer know the other would not use them.
    public var unitsDiscarded: UInt64 = 0
    /// Relay shares this node produced as an intermediate node.
    public var sharesSent: UInt64 = 0
    /// Restarts of neighbours seen (a new incarnation in a hello).
    public var peerRestarts: UInt64 = 0
    /// Records that expired (lease before commit, completion grace after).
    public var leaseExpiries: UInt64 = 0
    /// Abort messages sent to ask an upstream neighbour whether it committed.
    public var abortsSent: UInt64 = 0
    /// Key units spent authenticating frames sent to / accepted from neighbours (one unit per frame).
    public var authenticationUnitsSent: UInt64 = 0
    /// Key units consumed verifying frames accepted from neighbours (one per frame).
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

    /// All counters at zero.
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
    /// Equal when every counter is equal.
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
