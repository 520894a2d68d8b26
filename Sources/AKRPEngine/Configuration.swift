/// Sizes and timings of one engine. Every table and pool is allocated from these at start-up.
public struct EngineConfiguration: Sendable, Equatable {
    /// Bytes per key unit (the smallest reservable piece of link key).
    public var unitSize: Int = 32
    /// Units per link end held in the key pool ring.
    public var poolCapacity: Int = 4096
    /// Units per ownership block (CD&R: the low end owns even blocks, the high end odd blocks).
    public var ownershipBlock: UInt64 = 16
    /// Largest request, in units.
    public var maxRequestUnits: Int = 64
    /// Relay records (one per request branch passing through, starting or ending at this node).
    public var recordCapacity: Int = 1024
    /// Destination accumulators (requests ending here that are being reassembled at once).
    public var accumulatorCapacity: Int = 128
    /// Requests this node may have outstanding as a source.
    public var sourceCapacity: Int = 256
    /// Outgoing messages one engine call may produce before further ones are dropped (and counted).
    public var outboxCapacity: Int = 1024
    /// Events one engine call may produce before further ones are dropped (and counted).
    public var eventCapacity: Int = 1024
    /// Maximum neighbours (links) of one node.
    public var maxNeighbours: Int = 16
    /// How long a request may wait for future key from its arrival: the admission latency budget.
    /// The default bounds waiting at overload (with ``etaDeviations`` = 2): chosen on the NSFNET sweep of
    /// docs/SIMULATOR.md ("Default admission") as the one setting whose mean and p99 latency stay at or
    /// below rsvp's from load 0.6 up while its throughput stays within noise of rsvp's at overload.
    public var latencyBudget: Nanoseconds = 900_000_000
    /// How long a reservation may stay unconfirmed or uncommitted before it is abandoned.
    public var lease: Nanoseconds = 4_000_000_000
    /// After commit: how long past the expected completion a node waits for key before discarding.
    public var completionGrace: Nanoseconds = 4_000_000_000
    /// Multipath: candidate paths searched at once (1 = single path).
    public var paths: Int = 1
    /// Multipath: search one path only when the best one has the key now by this node's knowledge (every
    /// link at least 16 free units, or the request's size if larger: own links exact, others from link
    /// state), and the other candidates only if it fails. Saves the frames (and their authentication key)
    /// of branches that would lose anyway; off by default because stale link state costs a little
    /// throughput near saturation (PROTOCOL.md §10.2).
    public var adaptiveMultipath: Bool = false
    /// Multipath: how long the source waits for slower branches once the first one confirmed.
    public var branchWindow: Nanoseconds = 50_000_000
    /// Single path: how many other paths to try after a refusal.
    public var reroutes: Int = 2
    /// Resend interval for hello and abort.
    public var retryInterval: Nanoseconds = 200_000_000
    /// Abort attempts before the units in doubt are discarded.
    public var abortAttempts: Int = 3
    /// Longest interval between two link-state announcements of a link (a refresh); 0 disables link state.
    /// Changes that matter to routing are announced when they happen (``linkStateCheckInterval``); the
    /// refresh only repeats an unchanged level (for a node that restarted or lost a flood), so it can be
    /// rare: every refresh floods the whole network, and at light load the floods of a 10 s refresh were
    /// most of AKRP's frames (17 of 26 frames per delivered 4,096-bit request on NSFNET at load 0.2;
    /// 60 s gives 13 frames, with identical deliveries — docs/SIMULATOR.md, "Authentication cost").
    public var linkStateInterval: Nanoseconds = 60_000_000_000
    /// How often a node checks its links for a change worth announcing at once (triggered update): the
    /// free level moved to another band (none, under 4 units, under 16, more). Key-aware path costs only
    /// depend on the level when it is short of a request, so finer changes are not flooded. 0 = only the
    /// periodic refresh.
    /// The default, one second, also damps the floods: a link whose level crosses bands several times a
    /// second (every request of 16 units does, at the 16-unit band) is announced once, with its level at
    /// the check. On NSFNET with block-wise key it gave 2–3 % more throughput above saturation with
    /// key-aware routing than 100 ms (the mechanism is not isolated: the routing sees fewer, later level
    /// changes) and 2–6 % fewer frames, for a few ms more mean latency (docs/SIMULATOR.md, "Default admission").
    public var linkStateCheckInterval: Nanoseconds = 1_000_000_000
    /// How far (in hops) a link-state announcement travels: 16 = the whole network (paths are at most
    /// 16 hops); smaller values keep each flood local, for networks of thousands of nodes where a
    /// network-wide flood costs one frame per directed link.
    public var linkStateRadius: Int = 16
    /// Until a link's delivery pattern is known (four deliveries observed), ETAs of future units assume
    /// the link's nominal rate as a smooth flow. That is optimistic for devices that deliver key in
    /// blocks seconds apart: set this to `false` to admit only delivered key on such a link until its
    /// pattern is known, so that the latency budget holds from the first request.
    public var nominalRateBeforePattern: Bool = true
    /// Detour admission (trunk reservation): a path with more hops than the direct (least-delay) path may
    /// only take key that arrives within this many nanoseconds of the request's arrival (0, the default: only
    /// key already delivered when the reservation reaches each hop), so that under
    /// overload detours use spare key and do not take key that direct requests would have used at a lower
    /// cost per delivered bit. `nil` = the full latency budget (no detour restriction); a value above
    /// `latencyBudget` acts as `latencyBudget`.
    public var detourBudget: Nanoseconds? = 0
    /// The trunk reserve of detour admission: key taken after a request's deadline — a detour's deadline
    /// is its arrival plus `detourBudget`, so with the default every detour — may come only from a link
    /// that still has at least this fraction of a key block (the link's learned `blockUnits`) free and
    /// delivered, so that the last units of each block stay for requests on their direct paths. 0 = none
    /// (a detour takes any spare delivered key). Range 0…10 blocks.
    public var detourReserve: Double = 0.2
    /// Use key-aware path costs (link-state levels) instead of plain delay.
    public var keyAwareRouting: Bool = true
    /// Conflict detection and resolution: when false, an end never borrows the other end's units
    /// (ablation for the simulator).
    public var borrowing: Bool = true
    /// Fine-grained competition: at commit, the upstream end of each link moves a request whose path
    /// completes later (its ETA is past now + `yieldMargin`) from delivered units to its own future
    /// units that still arrive in time, yielding the delivered ones to requests that can complete now.
    public var yieldAtCommit: Bool = true
    /// How far in the future a request's completion must be before its delivered units are yielded.
    public var yieldMargin: Nanoseconds = 20_000_000
    /// ETAs of future units assume each key block comes `etaDeviations` typical deviations later than the
    /// smoothed period (0 = the smoothed period). Larger values admit fewer requests that would finish
    /// late: lower latency, lower throughput (see docs/SIMULATOR.md). The default, 2, ties the admitted
    /// wait to the link's observed block pattern: a unit counts as arriving in time only if it would even
    /// when its block comes two typical deviations late, so a request is not admitted on key that
    /// usually, but not reliably, comes within its budget.
    public var etaDeviations: Double = 2
    /// How long a `delivered` notice (destination → source, §4.12 of docs/PROTOCOL.md) may wait at a node
    /// for another message to the same neighbour to share its frame: the notice changes no state on its
    /// way, so it rides with the next message on that link instead of costing a frame (and its
    /// authentication key) of its own. A notice a client waits for (`Message.noticeAwaited`, from
    /// `request(…, awaitingConfirmation: true)`) never waits. At most `heldMessagesPerLink` messages (with
    /// link-state announcements, `linkStateHold`) wait per link; one more sends them all. 0 = always send
    /// at once. No key, unit or record waits.
    public var deliveredHold: Nanoseconds = 100_000_000
    /// How long a link-state announcement (§3.4 of docs/PROTOCOL.md), this node's own or one it forwards,
    /// may wait for another message to the same neighbour to share its frame. A newer announcement about
    /// the same link replaces a waiting one, so a level that changes again within the hold costs nothing
    /// more. Routing learns remote levels up to this much later per hop. 0 = always send at once.
    public var linkStateHold: Nanoseconds = 25_000_000
    /// How long a `reserve`, `confirm` or `fail` (§3.5 of docs/PROTOCOL.md) may wait for other messages to
    /// the same neighbour to share its frame — only while the link is busy (its smoothed interval between
    /// frames is at most this hold, so that company is likely within it) and its key is not abundant (less
    /// than 90 % of the pool delivered and free). Otherwise these messages leave at once. Trades up to this
    /// much delay per hop crossing for fewer frames and less authentication key where key is short.
    /// 0 = always send at once.
    public var frameHold: Nanoseconds = 20_000_000
    /// Own delivered units per link that requests never take, so that frames can always be authenticated
    /// with pool key (`Engine.takeAuthenticationKey`). 0 when the shell does not authenticate frames
    /// (simulations); a box that authenticates its frames should keep a few (e.g. 16).
    public var authenticationReserve: Int = 0

    /// The defaults documented on each field.
    public init() {}

    /// Checks the values are usable.
    /// - Throws: ``ConfigurationError`` naming the field.
    public func validate() throws(ConfigurationError) {
        if unitSize < 1 || unitSize > 4096 { throw .invalid(field: "unitSize", reason: "must be 1…4096") }
        if poolCapacity < 2 { throw .invalid(field: "poolCapacity", reason: "must be at least 2") }
        if ownershipBlock < 1 { throw .invalid(field: "ownershipBlock", reason: "must be at least 1") }
        if maxRequestUnits < 1 || maxRequestUnits > 256 || maxRequestUnits * unitSize > 65_535 {
            throw .invalid(field: "maxRequestUnits", reason: "must be 1…256 units and at most 65535 bytes")
        }
        if maxRequestUnits > poolCapacity { throw .invalid(field: "maxRequestUnits", reason: "exceeds poolCapacity") }
        if recordCapacity < 1 { throw .invalid(field: "recordCapacity", reason: "must be at least 1") }
        if accumulatorCapacity < 1 { throw .invalid(field: "accumulatorCapacity", reason: "must be at least 1") }
        if sourceCapacity < 1 { throw .invalid(field: "sourceCapacity", reason: "must be at least 1") }
        if outboxCapacity < 16 { throw .invalid(field: "outboxCapacity", reason: "must be at least 16") }
        if eventCapacity < 16 { throw .invalid(field: "eventCapacity", reason: "must be at least 16") }
        if paths < 1 || paths > 4 { throw .invalid(field: "paths", reason: "must be 1…4") }
        if authenticationReserve < 0 || authenticationReserve >= poolCapacity {
            throw .invalid(field: "authenticationReserve", reason: "must be 0…poolCapacity-1")
        }
        if !(etaDeviations >= 0 && etaDeviations <= 10) {
            throw .invalid(field: "etaDeviations", reason: "must be 0…10")
        }
        if !(detourReserve >= 0 && detourReserve <= 10) {
            throw .invalid(field: "detourReserve", reason: "must be 0…10 key blocks")
        }
        if linkStateRadius < 1 || linkStateRadius > 16 {
            throw .invalid(field: "linkStateRadius", reason: "must be 1…16 hops")
        }
        if maxNeighbours < 1 { throw .invalid(field: "maxNeighbours", reason: "must be at least 1") }
        if deliveredHold > 10_000_000_000 { throw .invalid(field: "deliveredHold", reason: "must be 0…10 s") }
        if linkStateHold > 10_000_000_000 { throw .invalid(field: "linkStateHold", reason: "must be 0…10 s") }
        if frameHold > 10_000_000_000 { throw .invalid(field: "frameHold", reason: "must be 0…10 s") }
    }
}

/// A configuration value that cannot be used.
public enum ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(field: String, reason: String)
    case topology(String)
    /// The error as one line naming the field or the topology problem.
    public var description: String {
        switch self {
        case .invalid(let field, let reason): "configuration field '\(field)': \(reason)"
        case .topology(let s): "topology: \(s)"
        }
    }
}
