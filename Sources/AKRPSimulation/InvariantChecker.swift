public import AKRPEngine

/// One broken invariant, with enough detail to debug it from a replayed seed.
public struct Violation: Sendable, CustomStringConvertible {
    /// The invariant of `docs/PROTOCOL.md` section "Invariants": 1 no reuse, 2 agreement, 3 no leak,
    /// 4 lossless, 5 liveness.
    public var invariant: Int
    /// When it was found (simulated ns).
    public var time: UInt64
    /// What broke: requests, units, links.
    public var detail: String
    /// The violation as printed by `akrp-sim chaos`.
    public var description: String { "invariant \(invariant) at t=\(time)ns: \(detail)" }
}

/// Watches every engine event of a run and checks the five invariants of docs/PROTOCOL.md §12:
/// incrementally (1, 2) after every step, and at quiescence (3, 4, 5).
///
/// Given the run's key streams, invariant 1 is also checked from the bytes (``KeyBytesCheck``): every
/// delivered key must be the stream bytes of the units its first hop consumed, and no stream bytes may
/// appear in the keys of two requests or in a key and an authentication key. Without the streams only
/// the engine's consumption reports are checked.
public final class InvariantChecker {
    private struct UnitKey: Hashable {
        var link: LinkID
        var end: NodeID
        var index: UInt64
    }
    private struct Owner: Equatable {
        var request: RequestID
        var branch: UInt8
    }
    private var consumed: [UnitKey: Owner] = [:]
    private var sourceKeys: [RequestID: (branch: UInt8, bytes: [UInt8])] = [:]
    private var destinationKeys: [RequestID: (branch: UInt8, bytes: [UInt8])] = [:]
    private var accepted: [RequestID: UInt64] = [:]
    private var consumers: Set<RequestID> = []
    /// Violations found so far (capped; the first of each invariant always kept).
    public private(set) var violations: [Violation] = []
    /// Requests delivered at both ends with identical keys.
    public private(set) var agreed = 0
    /// Units the engines reported consumed (both ends counted).
    public private(set) var unitsConsumed = 0
    /// Stop recording after this many violations (a broken run floods otherwise); the first violation
    /// of each invariant is recorded even past it, so that one flooding invariant hides no other.
    public var maxViolations = 20

    private var keyBytes: KeyBytesCheck?
    /// Delivered keys compared byte for byte with the stream bytes of the units they name (0 without streams).
    public var keysCheckedAgainstStreams: Int { keyBytes?.keysChecked ?? 0 }
    /// Authentication keys compared with their stream bytes (0 without streams).
    public var authenticationKeysChecked: Int { keyBytes?.authenticationKeysChecked ?? 0 }

    /// A checker of the engines' reports only (invariant 1 from `unitsConsumed` events).
    public init() {}

    /// A checker that also recomputes every delivered key from `keyStreams`, the device streams of the
    /// run's links.
    public init(keyStreams: LinkKeyStreams) {
        keyBytes = KeyBytesCheck(streams: keyStreams)
    }

    private func violate(_ i: Int, _ t: UInt64, _ s: String) {
        if violations.count < maxViolations || !violations.contains(where: { $0.invariant == i }) {
            violations.append(Violation(invariant: i, time: t, detail: s))
        }
    }

    /// Feeds every event of `outbox` produced by `node`'s engine at `time`.
    public func observe(outbox: Outbox, node: NodeID, time: UInt64) {
        var i = 0
        while i < outbox.eventCount {
            observe(outbox.event(i), outbox: outbox, node: node, time: time)
            i += 1
        }
    }

    /// One engine event of `node` at `time`, with the outbox that holds its key bytes: checked at once.
    public func observe(_ e: EngineEvent, outbox: Outbox, node: NodeID, time: UInt64) {
        switch e.kind {
        case .unitsConsumed:
            keyBytes?.noteConsumed(request: e.request, branch: e.branch, link: e.link, units: e.units)
            let owner = Owner(request: e.request, branch: e.branch)
            consumers.insert(e.request)
            let peer = e.link.peer(of: node)
            var r = 0
            while r < Int(e.units.runCount) {
                var u = e.units[r].start
                while u < e.units[r].end {
                    unitsConsumed += 1
                    let key = UnitKey(link: e.link, end: node, index: u)
                    if let prev = consumed[key] {
                        violate(1, time, "unit \(u) of link \(e.link) consumed twice at \(node): \(prev.request)/\(prev.branch) then \(e.request)/\(e.branch)")
                    }
                    consumed[key] = owner
                    if let other = consumed[UnitKey(link: e.link, end: peer, index: u)], other != owner {
                        violate(1, time, "unit \(u) of link \(e.link) consumed for \(other.request)/\(other.branch) at \(peer) but for \(e.request)/\(e.branch) at \(node)")
                    }
                    u += 1
                }
                r += 1
            }
        case .keyDelivered:
            let bytes = Array(outbox.keyBytes(of: e))
            if keyBytes != nil {
                let problems = keyBytes!.checkKey(
                    bytes, request: e.request, branch: e.branch, role: e.role, path: e.path, node: node)
                for problem in problems { violate(1, time, problem) }
            }
            if e.role == .source {
                if sourceKeys[e.request] != nil { violate(2, time, "\(e.request) delivered twice at its source") }
                sourceKeys[e.request] = (e.branch, bytes)
            } else {
                if destinationKeys[e.request] != nil { violate(2, time, "\(e.request) delivered twice at its destination") }
                destinationKeys[e.request] = (e.branch, bytes)
            }
            if let s = sourceKeys[e.request], let d = destinationKeys[e.request] {
                if s.branch != d.branch {
                    violate(2, time, "\(e.request): source used branch \(s.branch), destination branch \(d.branch)")
                } else if s.bytes != d.bytes {
                    violate(2, time, "\(e.request): source and destination keys differ")
                } else {
                    agreed += 1
                }
            }
        case .requestAccepted:
            accepted[e.request] = time
        default:
            break
        }
    }

    /// Checks the key of one authenticated frame, taken from unit `index` of `link` (the first
    /// `bytes.count` bytes of the unit): it must be that unit's stream bytes and appear in no delivered key
    /// (nor in another frame's key). Needs the key streams; without them only counts nothing.
    public func observeAuthenticationKey(_ bytes: [UInt8], link: LinkID, index: UnitIndex, time: UInt64) {
        guard keyBytes != nil else { return }
        for problem in keyBytes!.checkAuthenticationKey(bytes, link: link, index: index) { violate(1, time, problem) }
    }

    /// Notes that unit `index` of `link` was taken to key frames (hash key or pads): its stream bytes must
    /// appear in no delivered key nor in another authentication unit. Needs the key streams.
    public func observeAuthenticationUnit(link: LinkID, index: UnitIndex, time: UInt64) {
        guard keyBytes != nil else { return }
        for problem in keyBytes!.checkAuthenticationUnit(link: link, index: index) { violate(1, time, problem) }
    }

    /// Checks the end state after a drain period: nothing held (3); and, for a run without faults,
    /// nothing discarded and every consumed unit in a delivered key (4), every accepted request
    /// delivered at both ends (5).
    public func checkQuiescent(engines: [Engine], faultFree: Bool, time: UInt64) {
        for e in engines {
            if e.heldUnits != 0 { violate(3, time, "\(e.node) still holds \(e.heldUnits) units") }
            if e.activeRecords != 0 { violate(3, time, "\(e.node) still has \(e.activeRecords) request records") }
            if e.activeSourceRequests != 0 {
                violate(3, time, "\(e.node) still has \(e.activeSourceRequests) source requests")
            }
        }
        guard faultFree else { return }
        let discarded = engines.reduce(0) { $0 + $1.counters.unitsDiscarded }
        if discarded != 0 { violate(4, time, "\(discarded) units discarded in a run without faults") }
        for r in consumers.sorted() where sourceKeys[r] == nil || destinationKeys[r] == nil {
            violate(4, time, "\(r) consumed key but was not delivered at both ends")
        }
        for (r, _) in accepted.sorted(by: { $0.key < $1.key }) where sourceKeys[r] == nil || destinationKeys[r] == nil {
            violate(5, time, "accepted request \(r) was not delivered at both ends")
        }
    }

    /// Requests the checker saw delivered at both ends.
    public var deliveredBothEnds: Int { agreed }
    /// Requests accepted so far.
    public var acceptedCount: Int { accepted.count }
}
