import AKRPEngine
import AKRPWire

/// A local key request waiting for its key and for the destination's confirmation.
final class PendingRequest {
    weak var client: ControlChannelHandler?
    let correlation: UInt64
    /// Bytes asked for (whole units).
    let keyLength: Int
    let deadline: Nanoseconds
    /// When the request was made (monotonic), for the latency histogram.
    let started = monotonicNanoseconds()
    /// The key, once the source delivered it; handed out only after `destinationConfirmed`.
    var key: SecretBytes?
    /// Instead of a control client: the key delivery service's completion (``RelayNode/requestRelay``).
    let completion: ((RequestID, SecretBytes?, UInt8) -> Void)?

    init(client: ControlChannelHandler, correlation: UInt64, keyLength: Int, deadline: Nanoseconds) {
        self.client = client
        self.correlation = correlation
        self.keyLength = keyLength
        self.deadline = deadline
        completion = nil
    }

    init(keyLength: Int, deadline: Nanoseconds, completion: @escaping (RequestID, SecretBytes?, UInt8) -> Void) {
        client = nil
        correlation = 0
        self.keyLength = keyLength
        self.deadline = deadline
        self.completion = completion
    }

    /// Answers the client (if still connected) or the completion; `key` is wiped when the last reference goes.
    func respond(status: UInt8, key: SecretBytes?, id: RequestID) {
        if let completion {
            completion(id, key, status)
            return
        }
        client?.sendKeyResponse(correlation: correlation, status: status, request: id, key: key, started: started)
    }
}

extension RelayNode {
    /// One engine event: keys go to the waiting client or the key store, consumption to the audit log.
    func handle(event e: EngineEvent, now: Nanoseconds) {
        switch e.kind {
        case .keyDelivered:
            let bytes = outbox.keyBytes(of: e)
            audit.delivered(request: e.request, role: e.role, now: now)
            counters.keyBytesDelivered += UInt64(bytes.count)
            if e.role == .source {
                counters.keysDeliveredAsSource += 1
                // Held until the destination confirms: both ends hold the key, or the client gets none.
                if let pending = pendingRequests[e.request] {
                    pending.key = SecretBytes(copying: bytes)
                }
            } else {
                counters.keysDeliveredAsDestination += 1
                if let claim = relayClaim, claim(e.request, bytes) {
                    // A relayed key of the key delivery service: held there for its slave SAE.
                } else if !keys.insert(e.request, key: bytes, now: now) {
                    logger.warning(
                        "key store refused a delivered key (full, or its ID is held)",
                        metadata: ["request": "\(e.request)", "held": "\(keys.count)"])
                }
            }
        case .destinationConfirmed:
            if let pending = pendingRequests.removeValue(forKey: e.request) {
                if let key = pending.key {
                    counters.requestsCompleted += 1
                    answers.append((pending, e.request, key, 0))
                } else {
                    // Confirmed without a key here: cannot happen with a correct engine; never hand out nothing.
                    counters.requestsFailed += 1
                    answers.append((pending, e.request, nil, FailReason.unitsDiscarded.rawValue))
                }
            }
        case .requestFailed:
            audit.failed(request: e.request, reason: e.reason.description, now: now)
            if let pending = pendingRequests.removeValue(forKey: e.request) {
                counters.requestsFailed += 1
                answers.append((pending, e.request, nil, e.reason == .none ? FailReason.linkDown.rawValue : e.reason.rawValue))
            }
        case .unitsConsumed:
            audit.consumed(link: e.link, request: e.request, units: e.units, now: now)
            counters.unitsConsumedForKeys[e.link, default: 0] &+= UInt64(e.units.unitCount)
        case .unitsDiscarded:
            audit.discarded(link: e.link, count: e.count, now: now)
        case .requestAccepted, .inputRejected, .outboxOverflow:
            break
        }
    }

    /// The earliest deadline of a waiting local request.
    var nextRequestDeadline: Nanoseconds {
        var t: Nanoseconds = .max
        for p in pendingRequests.values { t = min(t, p.deadline) }
        return t
    }

    /// Answers the local requests whose time is up; their keys (if the source has one) are wiped: the
    /// destination's confirmation never came, so the client must not use them.
    func expireRequests(now: Nanoseconds) {
        for (id, pending) in pendingRequests where pending.deadline <= now {
            pendingRequests[id] = nil
            counters.requestsTimedOut += 1
            pending.key = nil
            pending.respond(status: KeyResponseStatus.timedOut.rawValue, key: nil, id: id)
        }
    }
}
