public import AKRPEngine

/// A relay protocol the simulator can run.
public enum ProtocolKind: String, Sendable, CaseIterable {
    /// The AKRP engine, single path with re-routes.
    case akrp
    /// The AKRP engine, k = 3 paths searched at once, earliest completion wins.
    case akrpMultipath = "akrp-multipath"
    /// Ablation: AKRP without CD&R borrowing (each end reserves only the units it owns).
    case akrpNoCDR = "akrp-nocdr"
    /// Ablation: multipath AKRP without CD&R borrowing.
    case akrpMultipathNoCDR = "akrp-multipath-nocdr"
    /// Baseline: one-time-pad relay hop after hop through per-link FIFOs waiting for key.
    case hopByHop = "hop-by-hop"
    /// Baseline: hop-by-hop locking of key holding earlier locks; release and retry with backoff.
    case rsvp

    /// Whether the protocol runs on the real engine.
    public var isEngine: Bool { self != .hopByHop && self != .rsvp }

    /// How often a request's messages cross its path end to end before both ends hold the key, when
    /// nothing waits: hop-by-hop relays once; rsvp locks forward, then relays back (docs/SIMULATOR.md);
    /// AKRP reserves forward, confirms back and commits with the shares forward (docs/PROTOCOL.md).
    public var crossings: Int {
        switch self {
        case .hopByHop: 1
        case .rsvp: 2
        case .akrp, .akrpMultipath, .akrpNoCDR, .akrpMultipathNoCDR: 3
        }
    }
}

/// How paths are chosen (for every protocol alike).
public enum RoutingPolicy: String, Sendable, CaseIterable {
    /// Least classical delay.
    case shortest
    /// Delay plus the time to wait for missing key (engine `Router` key-aware cost).
    case keyAware = "key-aware"
}

/// Everything a protocol run needs; shared read-only by every protocol of a comparison so that all
/// see identical arrivals and identical key streams.
public struct Scenario: Sendable {
    /// The network: nodes, links, rates, delays.
    public var network: SimNetwork
    /// The requests, in time order.
    public var arrivals: [Arrival]
    /// Requests arrive in `[0, duration)`; the run continues `drain` longer for completions.
    public var duration: Nanoseconds
    /// Extra simulated time after the last arrival, for completions.
    public var drain: Nanoseconds = 15_000_000_000
    /// Throughput counts key delivered in `[warmup, duration]` (pools start empty).
    public var warmup: Nanoseconds { min(10_000_000_000, duration / 5) }
    /// Seed of the key streams and of the protocols' own random choices.
    public var seed: UInt64
    /// Bits per key unit.
    public var unitBits = 256
    /// Key delivery for links without their own mode.
    public var delivery: KeyDeliveryMode = .blocks(meanPeriod: 2_000_000_000, jitter: 0.5)
    /// Pool capacity (units per link end) for links without their own.
    public var poolCapacity = 4096
    /// Processing time per message at a node (each node serves its messages one at a time).
    public var processing: Nanoseconds = 50_000
    /// AKRP admission latency budget.
    public var latencyBudget: Nanoseconds = EngineConfiguration().latencyBudget
    /// AKRP detour admission (`EngineConfiguration.detourBudget`); `nil` lets detours use the whole budget.
    public var detourBudget: Nanoseconds? = 0
    /// AKRP detour admission's trunk reserve, key blocks (`EngineConfiguration.detourReserve`).
    public var detourReserve: Double = EngineConfiguration().detourReserve
    /// AKRP link-state flood radius in hops (`EngineConfiguration.linkStateRadius`).
    public var linkStateRadius = 16
    /// AKRP multipath launches one branch when the best path has the key (`EngineConfiguration.adaptiveMultipath`).
    public var adaptiveMultipath = false
    /// AKRP ETAs plan for blocks this many typical deviations late (`EngineConfiguration.etaDeviations`).
    public var etaDeviations: Double = EngineConfiguration().etaDeviations
    /// AKRP: how long a `delivered` notice may wait for another message to share its frame
    /// (`EngineConfiguration.deliveredHold`).
    public var deliveredHold: Nanoseconds = EngineConfiguration().deliveredHold
    /// AKRP: how long a link-state announcement may wait for another message to share its frame
    /// (`EngineConfiguration.linkStateHold`).
    public var linkStateHold: Nanoseconds = EngineConfiguration().linkStateHold
    /// AKRP: how long a reservation message may wait on a busy link for others to share its frame
    /// (`EngineConfiguration.frameHold`).
    public var frameHold: Nanoseconds = EngineConfiguration().frameHold
    /// AKRP link-state announcement interval (0 = off).
    public var linkStateInterval: Nanoseconds = EngineConfiguration().linkStateInterval
    /// AKRP record table size per node.
    public var recordCapacity = 1024
    /// AKRP open source requests per node.
    public var sourceCapacity = 256
    /// Offered load relative to the flow bound (for reporting).
    public var load: Double = 0
    /// The flow bound of the demand, end-to-end bit/s (0 = unknown).
    public var boundBitsPerSecond: Double = 0
    /// Record per-request details (needed for `--trace`).
    public var recordTrace = false
    /// Baselines: hop-by-hop FIFO bound (packets per link).
    public var fifoBound = 200
    /// Baselines: rsvp attempts before giving up, first backoff.
    public var rsvpAttempts = 5
    /// Baselines: rsvp's first backoff (doubling per attempt).
    public var rsvpBackoff: Nanoseconds = 50_000_000
    /// Application retries: an application whose request failed (or was dropped) asks again after this
    /// backoff, until it holds a key or ``applicationRetryLimit`` attempts were made; nil: no retries.
    /// The same rule for every protocol; `app_latency_ms` then measures from the first arrival.
    public var applicationRetry: Nanoseconds? = nil
    /// Most attempts of one application request (the first included) when retries are on.
    public var applicationRetryLimit = 20

    /// A scenario with the default settings above.
    public init(network: SimNetwork, arrivals: [Arrival], duration: Nanoseconds, seed: UInt64) {
        self.network = network
        self.arrivals = arrivals
        self.duration = duration
        self.seed = seed
    }

    /// Units a request of `bits` bits needs.
    @inline(__always) public func units(bits: Int32) -> Int { (Int(bits) + unitBits - 1) / unitBits }

    func mode(of link: Int) -> KeyDeliveryMode { network.links[link].delivery ?? delivery }
    func capacity(of link: Int) -> Int { network.links[link].capacity ?? poolCapacity }
}
