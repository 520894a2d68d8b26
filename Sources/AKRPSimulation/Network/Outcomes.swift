import AKRPEngine

/// How a request ended.
public enum RequestOutcome: UInt8, Sendable {
    case pending = 0
    case delivered
    /// Refused or failed (no key within budget, no route, tables full, retries exhausted).
    case failed
    /// Dropped by a full relay queue (hop-by-hop).
    case dropped
    /// Still waiting when the run ended.
    case unfinished

    /// The outcome as written in traces and JSON.
    public var name: String {
        switch self {
        case .pending: "pending"
        case .delivered: "delivered"
        case .failed: "failed"
        case .dropped: "dropped"
        case .unfinished: "unfinished"
        }
    }
}

/// Per-request bookkeeping of one protocol run, indexed like the scenario's arrivals.
final class Outcomes {
    var outcome: [RequestOutcome]
    var sourceTime: [Nanoseconds]
    var destinationTime: [Nanoseconds]
    /// Units consumed for the request, counted once per link.
    var consumed: [Int32]
    let detailed: Bool
    var paths: [[UInt32]]
    var ranges: [[(link: Int32, start: UInt64, count: UInt32)]]
    var sourceDigest: [UInt64]
    var destinationDigest: [UInt64]
    /// Attempts made for the request (1 without application retries).
    var attempts: [UInt16]
    /// When the current (last) attempt started, for attempts after the first (the first starts at arrival).
    var attemptStart: [Nanoseconds]
    /// Units consumed by earlier attempts that failed (wasted whatever the last attempt does).
    var abandoned: [Int32]
    /// The latency the delivering attempt would have had if no message had waited anywhere: the protocol's
    /// crossings of the delivering path (``ProtocolKind/crossings``), each hop its delay plus one node's
    /// processing. Set at delivery; 0 before.
    var floor: [Nanoseconds]

    init(count: Int, detailed: Bool) {
        attempts = Array(repeating: 1, count: count)
        attemptStart = Array(repeating: 0, count: count)
        abandoned = Array(repeating: 0, count: count)
        floor = Array(repeating: 0, count: count)
        outcome = Array(repeating: .pending, count: count)
        sourceTime = Array(repeating: 0, count: count)
        destinationTime = Array(repeating: 0, count: count)
        consumed = Array(repeating: 0, count: count)
        self.detailed = detailed
        paths = detailed ? Array(repeating: [], count: count) : []
        ranges = detailed ? Array(repeating: [], count: count) : []
        sourceDigest = detailed ? Array(repeating: 0, count: count) : []
        destinationDigest = detailed ? Array(repeating: 0, count: count) : []
    }
}

/// FNV-1a 64-bit digest of key bytes (identifies a key in traces; not a cryptographic hash).
@inline(__always)
func keyDigest(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h &*= 0x100_0000_01B3
    }
    return h
}

/// Run-wide counters a driver fills besides the per-request outcomes.
struct RunCounters {
    /// Units discarded (both ends counted, divided by two when reported).
    var discardedUnitEnds: UInt64 = 0
    /// Peak free delivered units of any link pool.
    var peakPool = 0
    /// Peak relay queue length of any link (hop-by-hop).
    var peakQueue = 0
    /// Integral of reserved/locked units over time (unit·ns), sampled.
    var reservedUnitNanoseconds: Double = 0
    var messages: UInt64 = 0
    /// Authenticated frames: the messages one node sends one neighbour at one instant travel together.
    var frames: UInt64 = 0
    /// Messages by kind (index = `MessageKind.rawValue`; 0 unused), engine protocols only.
    var messagesByKind = [UInt64](repeating: 0, count: 16)
    var events: UInt64 = 0
    var keyGeneratedUnits: UInt64 = 0
}

/// Groups messages into frames the way a relay box sends them: the messages a node sends one neighbour
/// at the same instant (one engine step, or several inputs handled at the same time) share one
/// authenticated frame (docs/WIRE.md §4.6); the next instant starts a new one.
struct FrameGrouping {
    /// Per link and direction (low → high, high → low): when its current frame left.
    private var lastFrame: [Nanoseconds]

    init(links: Int) { lastFrame = Array(repeating: .max, count: 2 * links) }

    /// A message over link `link` from its low end (`fromLow`) or high end leaves at `now`: whether it
    /// starts a new frame.
    mutating func startsFrame(link: Int, fromLow: Bool, now: Nanoseconds) -> Bool {
        let k = 2 * link + (fromLow ? 0 : 1)
        guard lastFrame[k] != now else { return false }
        lastFrame[k] = now
        return true
    }
}

extension NetworkRun {
    /// The no-wait latency of request `k` over a path of the links `links` (indices into the network's
    /// links): ``ProtocolKind/crossings`` × Σ (link delay + one node's processing).
    func floorLatency(links: some Sequence<Int>) -> Nanoseconds {
        var one: Nanoseconds = 0
        for l in links { one += scenario.network.links[l].delay + scenario.processing }
        return Nanoseconds(kind.crossings) * one
    }

    /// Request `k`'s attempt failed now: with application retries on and attempts left (and time before the
    /// end of arrivals plus drain), schedules the next attempt via `schedule` after the backoff and returns
    /// true (the request stays pending); otherwise false.
    func retryApplication(_ k: Int, schedule: (Nanoseconds) -> Void) -> Bool {
        guard let backoff = scenario.applicationRetry, Int(outcomes.attempts[k]) < scenario.applicationRetryLimit else {
            return false
        }
        let at = now &+ backoff
        guard at < end else { return false }
        outcomes.attempts[k] += 1
        outcomes.outcome[k] = .pending
        outcomes.abandoned[k] += outcomes.consumed[k]
        outcomes.consumed[k] = 0
        outcomes.sourceTime[k] = 0
        outcomes.destinationTime[k] = 0
        schedule(at)
        return true
    }
}
