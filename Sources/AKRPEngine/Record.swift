/// The state of a request branch at one node.
enum RecordState: UInt8 {
    case free = 0
    /// Units bound upstream (if any); downstream reservation sent, waiting for confirm or fail.
    case reserving
    /// Whole branch downstream reserved; confirm sent upstream (or, at the source, waiting for the
    /// branch decision). Waiting for commit or release.
    case confirmed
    /// Downstream end after confirm: asked upstream whether it committed (abort), waiting for the answer.
    case aborting
    /// Committed: the node consumes its units when they are delivered.
    case committed
}

/// One request branch at one node: its place on the path and the units it holds on the node's
/// upstream link (`inUnits`, this node is the downstream end) and downstream link (`outUnits`).
struct Record {
    var state: RecordState = .free
    var request: RequestID = .none
    var branch: UInt8 = 0
    var position: UInt8 = 0
    var broken = false
    /// A client at the source waits for the `delivered` notice (`Message.noticeAwaited`).
    var noticeAwaited = false
    var attempts: UInt8 = 0
    var size: UInt16 = 0
    var inSession: Int16 = -1
    var outSession: Int16 = -1
    var accumulator: Int16 = -1
    var pendingIndex: Int16 = -1
    var shareMask: UInt32 = 0
    var deadline: Nanoseconds = 0
    var expiry: Nanoseconds = 0
    var eta: Nanoseconds = 0
    /// This node's window end on the upstream link when it accepted the reservation (sent in confirm:
    /// units it refused at or past this index were never tracked here).
    var windowAtAccept: UInt64 = 0
    var path = Path()
    var inUnits = UnitRuns()
    var outUnits = UnitRuns()

    var isSource: Bool { position == 0 }
    var isDestination: Bool { Int(position) == path.hops }

    /// A free record, built once: copying it is cheaper than building one (its inline arrays) every time.
    static let empty = Record()
}

/// Branch state kept by the source.
enum BranchState: UInt8 {
    case none = 0, pending, confirmed, failed, released, committed
}

/// A request at its source: candidate paths and the state of each branch.
struct SourceRequest {
    var active = false
    var request: RequestID = .none
    var destination: NodeID = .none
    var size: UInt16 = 0
    var arrival: Nanoseconds = 0
    var deadline: Nanoseconds = 0
    var decisionAt: Nanoseconds = .max
    var paths = InlineArray<4, Path>(repeating: Path())
    var pathCount: UInt8 = 0
    /// Candidates not searched yet (single path, least-delay routing): how many `Router.paths` is asked
    /// for when the first path fails (0: all searched).
    var deferredPaths: UInt8 = 0
    /// Hops of the direct (least-delay) path; longer candidate paths are detours.
    var directHops: UInt8 = 0
    /// Next candidate path to try (single path mode).
    var nextPath: UInt8 = 0
    var branchCount: UInt8 = 0
    var branchState = InlineArray<8, BranchState>(repeating: .none)
    var branchETA = InlineArray<8, Nanoseconds>(repeating: 0)
    var branchPath = InlineArray<8, UInt8>(repeating: 0)
    var lastReason: FailReason = .none
    var decided = false
    /// A client waits for the destination's confirmation (`Message.noticeAwaited` on the commit).
    var noticeAwaited = false
}

/// One link as seen from this node.
struct Session {
    var peer: NodeID
    var link: LinkID
    var topologyIndex: Int
    var up = false
    /// The shell lost its connection to the peer (``Engine/linkLost(toward:now:)``): until the next
    /// handshake the link counts as having no key, so that routing and link state avoid it.
    var lost = false
    var peerIncarnation: UInt64 = 0
    var sendSequence: UInt64 = 0
    var receiveSequence: UInt64 = 0
    /// Resume index this end announced in its hello / resync.
    var resumeMine: UInt64 = 0
    var resumeSet = false
    var helloDue: Nanoseconds = 0
    /// Nominal unit interval (ns per unit), from the configured rate.
    var unitInterval: Double
    var linkStateSerial: UInt32 = 0
    /// Level band last announced for this link (`Engine.levelBand`), and when (triggered link state).
    var announcedBand: UInt8 = .max
    var announcedAt: Nanoseconds = 0
    /// One past the last unit the peer's pool can track, as last announced by the peer (0 = unknown).
    /// It only grows: units below it are never past the peer's window.
    var peerWindowEnd: UInt64 = 0
    /// Index of the last own unit that keyed a frame sent to the peer, and of the last peer unit that
    /// keyed a frame accepted from it (authentication key is used in increasing index order).
    var authenticationSent: UInt64 = 0
    var authenticationReceived: UInt64 = 0
    /// Observed delivery pattern of the link's key (smoothed): time of the last delivery, period
    /// between deliveries (ns) and units per delivery. Used for ETAs once `deliveries >= 4`.
    var lastDeliveryAt: Nanoseconds = 0
    var blockPeriod: Double = 0
    /// Smoothed absolute deviation of the period (ns): ETAs plan for a late block.
    var blockDeviation: Double = 0
    var blockUnits: Double = 0
    var deliveries: UInt32 = 0
    /// `delivered` notices and link-state announcements waiting to ride with the next message to the peer
    /// (``Engine/sendLater(_:_:_:now:hold:)``), and when the earliest of them must leave anyway.
    var heldCount = 0
    var heldDeadline: Nanoseconds = .max
    /// When the last frame to the peer left, and the smoothed interval between frames (ns; starts at
    /// `Engine.quietFrameInterval`): `frameHold` applies only while it is at most the hold.
    var lastFrameAt: Nanoseconds = 0
    var frameInterval: Double = Engine.quietFrameInterval
}
