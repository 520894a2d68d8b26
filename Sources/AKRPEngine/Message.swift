/// The type of an AKRP message between two neighbouring nodes. Values are stable: they are the
/// message-type byte of the wire format.
public enum MessageKind: UInt8, Sendable, CaseIterable {
    /// Link handshake after a (re)start: "I am `from`, incarnation `incarnation`".
    case hello = 1
    /// Answer to a hello from a new incarnation: the restarted end may use units from `index` on.
    case resync = 2
    /// Reserve `units` on link `hop` of `path` for `request` (branch `branch`), `size` units, deadline `time`.
    case reserve = 3
    /// Downstream is reserved; `units` are the final units of link `hop`; `time` is the branch's ETA.
    case confirm = 4
    /// The branch failed downstream (`reason`); the sender has freed its units of link `hop`.
    case fail = 5
    /// The source chose this branch: consume. The payload is an XOR accumulator of relay shares
    /// (`shareMask` says whose); `time` is the branch ETA.
    case commit = 6
    /// One relay share (`k_in XOR k_out` of node `hop`) travelling to the destination.
    case share = 7
    /// Upstream end aborted the request on link `hop` before committing: free its units.
    case release = 8
    /// Downstream end asks upstream whether it committed; answered by `abortReply`.
    case abort = 9
    /// Answer to `abort`: `reason` holds an ``AbortOutcome``.
    case abortReply = 10
    /// Flooded link state: link `subject` has `level` free units, refilled at `rate` units/s.
    case linkState = 11
    /// The destination delivered the key (travels back to the source).
    case delivered = 12
}

/// Why a request (or one branch of it) failed. Stable values: they travel on the wire.
public enum FailReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    /// No units could be reserved within the request's latency budget.
    case noKeyWithinBudget = 1
    /// The reservation table or the request table is full.
    case tableFull = 2
    /// The request's units would need more fragments than a message carries.
    case fragmented = 3
    /// The link is down or resynchronising after a peer restart.
    case linkDown = 4
    /// The lease of the request ran out.
    case leaseExpired = 5
    /// A node of the path restarted and lost the request.
    case peerRestarted = 6
    /// The path is invalid (loop, too long, unknown neighbour).
    case badPath = 7
    /// No route to the destination.
    case noRoute = 8
    /// The request is larger than the configured maximum.
    case tooLarge = 9
    /// A multipath branch lost to a branch that completes earlier.
    case lostToOtherBranch = 10
    /// The units of a link were discarded (crash, doubt) after being reserved.
    case unitsDiscarded = 11

    /// The reason as a short hyphenated name.
    public var description: String {
        switch self {
        case .none: "none"
        case .noKeyWithinBudget: "no-key-within-budget"
        case .tableFull: "table-full"
        case .fragmented: "fragmented"
        case .linkDown: "link-down"
        case .leaseExpired: "lease-expired"
        case .peerRestarted: "peer-restarted"
        case .badPath: "bad-path"
        case .noRoute: "no-route"
        case .tooLarge: "too-large"
        case .lostToOtherBranch: "lost-to-other-branch"
        case .unitsDiscarded: "units-discarded"
        }
    }
}

/// The answer to an `abort`. Stable values.
public enum AbortOutcome: UInt8, Sendable {
    /// Upstream never committed and never will: the units may be freed.
    case released = 1
    /// Upstream committed: the units must be consumed or discarded, never freed.
    case committed = 2
    /// Upstream has no record: the units must be discarded.
    case unknown = 3
}

/// One message between neighbours. A flat value type: every kind uses a subset of the fields
/// (see `docs/PROTOCOL.md`); unused fields are zero. Key bytes never live here: a `commit` or
/// `share` carries them as a separate payload of `payloadLength` bytes.
public struct Message: Sendable, Equatable {
    /// What the message is; decides which fields are used.
    public var kind: MessageKind
    /// Sending node.
    public var from: NodeID
    /// Receiving node (a neighbour of `from`).
    public var to: NodeID
    /// Incarnation of the sender (changes at every restart).
    public var incarnation: UInt64
    /// Incarnation of the receiver as the sender knows it (0 before the first hello).
    public var peerIncarnation: UInt64
    /// Per directed link, strictly increasing within one sender incarnation.
    public var sequence: UInt64
    /// The request the message is about (every kind but hello, resync and linkState).
    public var request: RequestID
    /// Branch of a multipath request (0 for single path).
    public var branch: UInt8
    /// Position of the link (reserve, confirm, fail, release, abort) or node (share) on the path.
    public var hop: UInt8
    /// Fail reason, or abort outcome; for commit and delivered, flags (``noticeAwaited``).
    public var reason: UInt8
    /// Flag of commit and delivered (in `reason`): the source has a client waiting for the destination's
    /// `delivered` notice, which therefore leaves at once at every hop instead of waiting for another
    /// message to share its frame (`EngineConfiguration.deliveredHold`).
    public static let noticeAwaited: UInt8 = 1
    /// Request size in units.
    public var size: UInt16
    /// Deadline (reserve) or estimated completion time (confirm, commit), in engine nanoseconds.
    public var time: Nanoseconds
    /// Resume index (hello, resync), the sender's pool window end (reserve), the window end at
    /// acceptance (confirm), or free units (linkState).
    public var index: UInt64
    /// Units per second (linkState).
    public var rate: UInt32
    /// Link-state serial (linkState), per origin node.
    public var serial: UInt32
    /// Link described by a linkState.
    public var subject: LinkID
    /// Which nodes' shares are XORed into a commit's payload (bit i = node i of the path).
    public var shareMask: UInt32
    /// The path of the request branch, source first.
    public var path: Path
    /// Proposed units (reserve), final units (confirm), or the committed units of the link (commit).
    public var units: UnitRuns
    /// Length of the key-bytes payload that travels with this message.
    public var payloadLength: UInt16

    /// A message of `kind` with every other field zero.
    public init(kind: MessageKind, from: NodeID = .none, to: NodeID = .none) {
        // A copy of a zero message built once: cheaper than building the inline arrays every time.
        self = Message.zero
        self.kind = kind
        self.from = from
        self.to = to
    }

    private static let zero = Message(zeroOfKind: .hello)

    private init(zeroOfKind kind: MessageKind) {
        self.kind = kind
        from = .none
        to = .none
        incarnation = 0
        peerIncarnation = 0
        sequence = 0
        request = .none
        branch = 0
        hop = 0
        reason = 0
        size = 0
        time = 0
        index = 0
        rate = 0
        serial = 0
        subject = LinkID(.none, .none)
        shareMask = 0
        path = Path()
        units = UnitRuns()
        payloadLength = 0
    }
}
