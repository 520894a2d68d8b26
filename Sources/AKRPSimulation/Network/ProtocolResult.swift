import AKRPEngine

/// The measured result of one protocol on one scenario (one load point). Field names match the
/// JSON schema documented in `docs/SIMULATOR.md`.
public struct ProtocolResult: Sendable {
    /// The protocol (`akrp`, `rsvp`, …), with `@BUDGETms` when a sweep ran it per latency budget.
    public var protocolName: String
    /// The routing policy (`shortest` or `key-aware`).
    public var routing: String
    /// The workload (`poisson`, `ppbp`, `hotspot`).
    public var workload: String
    /// The topology's name.
    public var topology: String
    /// Offered load, × the flow bound (0 when the run was given an absolute `--rate`).
    public var load: Double
    /// Seed of workload and key streams.
    public var seed: UInt64
    /// Simulated seconds during which requests arrive.
    public var durationSeconds: Double
    /// Requests that arrived.
    public var offeredRequests = 0
    /// Key bits those requests asked for.
    public var offeredBits = 0
    /// Requests delivered at both ends.
    public var deliveredRequests = 0
    /// Key bits of the delivered requests.
    public var deliveredBits = 0
    /// Requests that failed (refused at admission, lease expired, no path).
    public var failedRequests = 0
    /// Requests dropped by a baseline's queue bound.
    public var droppedRequests = 0
    /// Requests still open at the end of the drain.
    public var unfinishedRequests = 0
    /// Key bits of failed, dropped and unfinished requests.
    public var failedBits = 0
    /// Delivered key, bit/s, between the warm-up and the end of arrivals.
    public var throughputBps = 0.0
    /// Link key produced by all devices, bits.
    public var keyGeneratedBits = 0
    /// Link key consumed for requests, bits (both ends of a link count once).
    public var keyConsumedBits = 0
    /// Link key consumed for requests that were not delivered, plus discarded key, bits.
    public var keyWastedBits = 0
    /// Link key discarded (burned, e.g. after a restart), bits.
    public var keyDiscardedBits = 0
    /// Link key consumed per delivered bit, authentication not counted.
    public var consumedPerDeliveredBit = 0.0
    /// Link key spent authenticating frames between neighbours, bits (an 8-byte pad per frame under a recycled hash key; an upper bound).
    public var authenticationBits = 0
    /// Link key consumed per delivered bit, authentication of every frame included.
    public var consumedPerDeliveredBitWithAuthentication = 0.0
    /// Mean latency of delivered requests, arrival to delivery at both ends, ms.
    public var latencyMean = 0.0
    /// Median latency, ms.
    public var latencyP50 = 0.0
    /// 99th percentile latency, ms.
    public var latencyP99 = 0.0
    /// Largest latency, ms.
    public var latencyMax = 0.0
    /// Mean and 99th percentile of the delivered requests' no-wait latency (``ProtocolKind/crossings`` of
    /// the delivering path, each hop its delay and one node's processing), ms: what the protocol's message
    /// pattern costs on those paths before anything waits.
    public var latencyFloorMean = 0.0
    /// 99th percentile of the no-wait latency, ms.
    public var latencyFloorP99 = 0.0
    /// Mean of relay latency minus the no-wait latency, per delivered request, ms: time spent waiting for
    /// key, in queues, behind held frames, in rsvp's backoffs.
    public var waitingMean = 0.0
    /// 99th percentile of the waiting, ms.
    public var waitingP99 = 0.0
    /// Smallest waiting of a delivered request, ms (never negative when the no-wait model holds).
    public var waitingMin = 0.0
    /// With application retries (`Scenario.applicationRetry`): their backoff, ms, and the latency the
    /// application sees — from its first arrival to the key, failed attempts and backoffs included (ms).
    public var applicationRetryMs: Double?
    /// Mean application-perceived latency, ms (with retries on).
    public var applicationLatencyMean = 0.0
    /// Median application-perceived latency, ms.
    public var applicationLatencyP50 = 0.0
    /// 99th percentile application-perceived latency, ms.
    public var applicationLatencyP99 = 0.0
    /// Largest application-perceived latency, ms.
    public var applicationLatencyMax = 0.0
    /// Attempts made for all requests (= offered requests without application retries).
    public var attempts = 0
    /// Latency quantiles 0 %, 1 %, …, 100 % in ms (for CDF plots); empty when nothing was delivered.
    public var latencyQuantiles: [Double] = []
    /// Delivered requests / offered requests.
    public var successRatio = 0.0
    /// Jain's fairness index over the pairs' delivered / offered ratios (1 = fair).
    public var jainFairness = 0.0
    /// Largest number of units held in one pool end.
    public var peakPoolUnits = 0
    /// Longest relay queue of a baseline, packets (0 for AKRP: nothing queues).
    public var peakQueuePackets = 0
    /// Time-averaged units reserved (AKRP) or locked (rsvp) but not yet consumed, all links.
    public var reservedIdleUnitsMean = 0.0
    /// The flow bound of the scenario, bit/s.
    public var boundThroughputBps = 0.0
    /// Throughput / flow bound.
    public var boundRatio = 0.0
    /// Messages sent between neighbours.
    public var messages: UInt64 = 0
    /// Authenticated frames between neighbours: the messages one node sends one neighbour at one instant
    /// travel in one frame.
    public var frames: UInt64 = 0
    /// Engine protocols: messages per kind (`reserve`, `confirm`, …), for finding where frames come from.
    public var messagesByKind: [(String, UInt64)] = []
    /// Wall-clock seconds the run took.
    public var wallSeconds = 0.0
    /// AKRP's latency budget of the run, ms (`nil` for the baselines).
    public var latencyBudgetMs: Double?
    /// AKRP: key blocks planned this many typical deviations late (`nil` for the baselines).
    public var etaDeviations: Double?
    /// AKRP: how long delivered notices wait for other messages, ms (`nil` for the baselines).
    public var deliveredHoldMs: Double?
    /// AKRP: how long link-state announcements wait for other messages, ms (`nil` for the baselines).
    public var linkStateHoldMs: Double?
    /// AKRP: how long reservation messages wait on a busy link for others, ms (`nil` for the baselines).
    public var frameHoldMs: Double?
    /// AKRP: detour budget, ms (`nil`: no detour restriction, or a baseline).
    public var detourBudgetMs: Double?
    /// AKRP: detour admission's trunk reserve, key blocks (`nil` for the baselines).
    public var detourReserve: Double?
    /// The protocol without a `@budget` suffix.
    public var protocolFamily: String { protocolName.split(separator: "@").first.map(String.init) ?? protocolName }

    /// Computes the metrics of a finished run.
    init(
        protocol p: ProtocolKind, routing: RoutingPolicy, workload: String, scenario s: Scenario, outcomes o: Outcomes,
        counters c: RunCounters
    ) {
        protocolName = p.rawValue
        if p.isEngine {
            latencyBudgetMs = Double(s.latencyBudget) / 1e6
            etaDeviations = s.etaDeviations
            deliveredHoldMs = Double(s.deliveredHold) / 1e6
            linkStateHoldMs = Double(s.linkStateHold) / 1e6
            frameHoldMs = Double(s.frameHold) / 1e6
            detourBudgetMs = s.detourBudget.map { Double(min($0, s.latencyBudget)) / 1e6 }
            detourReserve = s.detourReserve
        }
        self.routing = routing.rawValue
        self.workload = workload
        topology = s.network.name
        load = s.load
        seed = s.seed
        durationSeconds = Double(s.duration) / 1e9
        var latencies: [Double] = []
        var applicationLatencies: [Double] = []
        var floors: [Double] = []
        var waits: [Double] = []
        var windowBits = 0
        var consumedUnits = 0
        var wastedUnits = 0
        var pairOffered: [Int: Int] = [:]
        var pairDelivered: [Int: Int] = [:]
        let n = s.network.nodeCount
        for (i, a) in s.arrivals.enumerated() {
            let bits = Int(a.bits)
            offeredRequests += 1
            offeredBits += bits
            let pair = Int(a.source) * n + Int(a.destination)
            pairOffered[pair, default: 0] += 1
            consumedUnits += Int(o.consumed[i]) + Int(o.abandoned[i])
            wastedUnits += Int(o.abandoned[i])
            attempts += Int(o.attempts[i])
            switch o.outcome[i] {
            case .delivered:
                deliveredRequests += 1
                deliveredBits += bits
                pairDelivered[pair, default: 0] += 1
                let done = max(o.sourceTime[i], o.destinationTime[i])
                // Relay latency of the attempt that delivered; the application waited from the arrival.
                let start = o.attempts[i] > 1 ? o.attemptStart[i] : a.time
                latencies.append(Double(done - start) / 1e6)
                floors.append(Double(o.floor[i]) / 1e6)
                waits.append((Double(done) - Double(start) - Double(o.floor[i])) / 1e6)
                applicationLatencies.append(Double(done - a.time) / 1e6)
                if done >= s.warmup && done <= s.duration { windowBits += bits }
            case .failed:
                failedRequests += 1
                failedBits += bits
                wastedUnits += Int(o.consumed[i])
            case .dropped:
                droppedRequests += 1
                failedBits += bits
                wastedUnits += Int(o.consumed[i])
            case .unfinished, .pending:
                unfinishedRequests += 1
                failedBits += bits
                wastedUnits += Int(o.consumed[i])
            }
        }
        let discarded = Int(c.discardedUnitEnds / 2)
        keyGeneratedBits = Int(c.keyGeneratedUnits) * s.unitBits
        keyConsumedBits = consumedUnits * s.unitBits
        keyDiscardedBits = discarded * s.unitBits
        keyWastedBits = (wastedUnits + discarded) * s.unitBits
        // Steady state: key delivered between the warm-up and the end of arrivals (the drain's extra key
        // would otherwise flatter protocols that queue).
        throughputBps = Double(windowBits) / (Double(s.duration - s.warmup) / 1e9)
        consumedPerDeliveredBit = deliveredBits > 0 ? Double(keyConsumedBits) / Double(deliveredBits) : 0
        successRatio = offeredRequests > 0 ? Double(deliveredRequests) / Double(offeredRequests) : 0
        latencies.sort()
        if !latencies.isEmpty {
            latencyMean = latencies.reduce(0, +) / Double(latencies.count)
            latencyP50 = Self.quantile(latencies, 0.5)
            latencyP99 = Self.quantile(latencies, 0.99)
            latencyMax = latencies.last!
            latencyQuantiles = (0...100).map { Self.quantile(latencies, Double($0) / 100) }
        }
        floors.sort()
        waits.sort()
        if !floors.isEmpty {
            latencyFloorMean = floors.reduce(0, +) / Double(floors.count)
            latencyFloorP99 = Self.quantile(floors, 0.99)
            waitingMean = waits.reduce(0, +) / Double(waits.count)
            waitingP99 = Self.quantile(waits, 0.99)
            waitingMin = waits[0]
        }
        applicationLatencies.sort()
        if s.applicationRetry != nil, !applicationLatencies.isEmpty {
            applicationRetryMs = Double(s.applicationRetry ?? 0) / 1e6
            applicationLatencyMean = applicationLatencies.reduce(0, +) / Double(applicationLatencies.count)
            applicationLatencyP50 = Self.quantile(applicationLatencies, 0.5)
            applicationLatencyP99 = Self.quantile(applicationLatencies, 0.99)
            applicationLatencyMax = applicationLatencies.last!
        }
        var sum = 0.0
        var squares = 0.0
        for (pair, offered) in pairOffered {
            let x = Double(pairDelivered[pair] ?? 0) / Double(offered)
            sum += x
            squares += x * x
        }
        jainFairness = squares > 0 ? sum * sum / (Double(pairOffered.count) * squares) : 0
        peakPoolUnits = c.peakPool
        peakQueuePackets = c.peakQueue
        let span = Double(s.duration + s.drain)
        reservedIdleUnitsMean = c.reservedUnitNanoseconds / span
        boundThroughputBps = s.boundBitsPerSecond
        boundRatio = s.boundBitsPerSecond > 0 ? throughputBps / s.boundBitsPerSecond : 0
        messages = c.messages
        // Every frame between neighbours (the messages one node sends one neighbour at one instant) is
        // authenticated with an 8-byte pad of its sender's pool under a
        // recycled hash key (docs/WIRE.md §4.6): the same charge for every protocol, an upper bound since
        // only the total number of frames is counted (each direction of a link pays its first hash key and
        // at most three unused pads of its last pad unit).
        frames = c.frames
        if p.isEngine {
            messagesByKind = MessageKind.allCases.map { ("\($0)", c.messagesByKind[Int($0.rawValue) & 15]) }
        }
        authenticationBits = FrameKeyCost.boundBits(
            frames: Int(frames), directions: 2 * s.network.links.count, unitBits: s.unitBits)
        consumedPerDeliveredBitWithAuthentication =
            deliveredBits > 0 ? Double(keyConsumedBits + authenticationBits) / Double(deliveredBits) : 0
    }

    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let k = Int((q * Double(sorted.count - 1)).rounded(.up))
        return sorted[min(max(k, 0), sorted.count - 1)]
    }

    /// One JSON object (stable field names; see `docs/SIMULATOR.md`).
    public var json: String {
        var w = JSONObjectWriter()
        w.add("protocol", protocolName)
        w.add("routing", routing)
        w.add("workload", workload)
        w.add("topology", topology)
        w.add("load", load)
        w.add("seed", Int(seed))
        w.add("duration_s", durationSeconds)
        w.add("offered_requests", offeredRequests)
        w.add("offered_bits", offeredBits)
        w.add("delivered_requests", deliveredRequests)
        w.add("delivered_bits", deliveredBits)
        w.add("failed_requests", failedRequests)
        w.add("dropped_requests", droppedRequests)
        w.add("unfinished_requests", unfinishedRequests)
        w.add("failed_bits", failedBits)
        w.add("throughput_bps", throughputBps)
        w.add("key_generated_bits", keyGeneratedBits)
        w.add("key_consumed_bits", keyConsumedBits)
        w.add("key_wasted_bits", keyWastedBits)
        w.add("key_discarded_bits", keyDiscardedBits)
        w.add("consumed_per_delivered_bit", consumedPerDeliveredBit)
        w.add("frames", Int(frames))
        if !messagesByKind.isEmpty {
            w.addRaw("messages_by_kind", "{" + messagesByKind.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        }
        w.add("authentication_bits", authenticationBits)
        w.add("consumed_per_delivered_bit_with_authentication", consumedPerDeliveredBitWithAuthentication)
        w.addRaw(
            "latency_ms",
            "{\"mean\":\(jsonNumber(latencyMean)),\"p50\":\(jsonNumber(latencyP50)),\"p99\":\(jsonNumber(latencyP99)),\"max\":\(jsonNumber(latencyMax))}"
        )
        w.addRaw("latency_floor_ms", "{\"mean\":\(jsonNumber(latencyFloorMean)),\"p99\":\(jsonNumber(latencyFloorP99))}")
        w.addRaw(
            "waiting_ms",
            "{\"mean\":\(jsonNumber(waitingMean)),\"p99\":\(jsonNumber(waitingP99)),\"min\":\(jsonNumber(waitingMin))}")
        w.addRaw("latency_quantiles_ms", "[" + latencyQuantiles.map(jsonNumber).joined(separator: ",") + "]")
        w.add("attempts", attempts)
        if let retry = applicationRetryMs {
            w.add("application_retry_ms", retry)
            w.addRaw(
                "app_latency_ms",
                "{\"mean\":\(jsonNumber(applicationLatencyMean)),\"p50\":\(jsonNumber(applicationLatencyP50)),\"p99\":\(jsonNumber(applicationLatencyP99)),\"max\":\(jsonNumber(applicationLatencyMax))}"
            )
        }
        w.add("success_ratio", successRatio)
        w.add("jain_fairness", jainFairness)
        w.add("peak_pool_units", peakPoolUnits)
        w.add("peak_queue_packets", peakQueuePackets)
        w.add("reserved_idle_units_mean", reservedIdleUnitsMean)
        w.addRaw("latency_budget_ms", latencyBudgetMs.map(jsonNumber) ?? "null")
        w.addRaw("eta_deviations", etaDeviations.map(jsonNumber) ?? "null")
        w.addRaw("delivered_hold_ms", deliveredHoldMs.map(jsonNumber) ?? "null")
        w.addRaw("link_state_hold_ms", linkStateHoldMs.map(jsonNumber) ?? "null")
        w.addRaw("frame_hold_ms", frameHoldMs.map(jsonNumber) ?? "null")
        w.addRaw("detour_budget_ms", detourBudgetMs.map(jsonNumber) ?? "null")
        w.addRaw("detour_reserve", detourReserve.map(jsonNumber) ?? "null")
        w.add("bound_throughput_bps", boundThroughputBps)
        w.add("bound_ratio", boundRatio)
        w.add("messages", Int(messages))
        w.add("wall_seconds", wallSeconds)
        return w.text
    }
}

/// Minimal JSON object writer (no Foundation in this module).
struct JSONObjectWriter {
    private var parts: [String] = []
    mutating func add(_ k: String, _ v: String) { parts.append("\"\(k)\":\(jsonString(v))") }
    mutating func add(_ k: String, _ v: Int) { parts.append("\"\(k)\":\(v)") }
    mutating func add(_ k: String, _ v: Double) { parts.append("\"\(k)\":\(jsonNumber(v))") }
    mutating func addRaw(_ k: String, _ raw: String) { parts.append("\"\(k)\":\(raw)") }
    var text: String { "{" + parts.joined(separator: ",") + "}" }
}

func jsonNumber(_ v: Double) -> String {
    guard v.isFinite else { return "null" }
    if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
    // Six significant decimals are plenty for metrics.
    let scaled = (v * 1_000_000).rounded() / 1_000_000
    return "\(scaled)"
}

/// A JSON string literal (quoted and escaped) for `s`.
public func jsonString(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if ch.value < 0x20 { out += "\\u00" + (ch.value < 0x10 ? "0" : "") + String(ch.value, radix: 16) } else {
                out.unicodeScalars.append(ch)
            }
        }
    }
    return out + "\""
}
