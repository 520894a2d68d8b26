import AKRPEngine
import AKRPManagement

/// Group errors of the AKRP group's key commands (docs/MANAGEMENT.md).
enum AKRPGroupError {
    /// Key commands are answered only on the box's Unix socket: key bytes never cross UDP or the USB line.
    static let keyTransportNotAllowed: UInt16 = 1
    /// No such key here: never delivered to this box, already fetched, or expired.
    static let keyUnknown: UInt16 = 2
    /// Too many key requests made over SMP are waiting or unread.
    static let keyRequestsFull: UInt16 = 3
}

/// Key requests started over SMP (AKRP group, command 1) whose outcome has not been read yet: waiting
/// for their key, or failed with a reason. Bounded; a failure nobody reads is forgotten after `expiry`.
/// A delivered key is not kept here but in the box's key store, fetched once like any delivered key.
struct SMPKeyRequests {
    enum State {
        case waiting
        case failed(reason: String, until: Nanoseconds)
    }

    let capacity: Int
    private(set) var states: [RequestID: State] = [:]

    init(capacity: Int) { self.capacity = capacity }

    /// Forgets the failures whose time is up; true when a new request fits.
    mutating func makeRoom(now: Nanoseconds) -> Bool {
        if states.count >= capacity {
            for (id, state) in states {
                if case .failed(_, let until) = state, until <= now { states[id] = nil }
            }
        }
        return states.count < capacity
    }

    mutating func started(_ id: RequestID) { states[id] = .waiting }
    mutating func delivered(_ id: RequestID) { states[id] = nil }
    mutating func failed(_ id: RequestID, reason: String, until: Nanoseconds) {
        states[id] = .failed(reason: reason, until: until)
    }

    /// The state of `id`, removing a failure once it has been read.
    mutating func read(_ id: RequestID) -> State? {
        guard let state = states[id] else { return nil }
        if case .failed = state { states[id] = nil }
        return state
    }
}

/// The AKRP group's key commands (docs/MANAGEMENT.md): command 1 starts an end-to-end key request and
/// answers at once with its ID; command 2 reads a request's outcome or fetches a delivered key (at the
/// source once the destination confirmed, at the destination once it arrived) — handed out once, then
/// wiped. Answered only on the Unix socket (mode 0660, the box's operators): key bytes never travel over
/// UDP or the USB serial line.
extension RelayNode {
    func registerKeyCommands(_ d: SMPDispatcher) {
        d.register(group: SMPGroup.akrp, command: 1, write: { [self] r in smpKeyRequest(r) })
        d.register(group: SMPGroup.akrp, command: 2, write: { [self] r in smpKeyGet(r) })
    }

    /// Command 1 (write) `{to, bytes}` → `{status: "waiting", id}` or `{status: "refused", reason}`.
    func smpKeyRequest(_ r: SMPRequest) -> SMPOutcome {
        guard management.currentTransport == "socket" else { return .groupError(AKRPGroupError.keyTransportNotAllowed) }
        guard let to = r["to"]?.unsignedValue, to >= 1, to <= UInt64(UInt32.max),
            let bytes = r["bytes"]?.unsignedValue, bytes >= 1, bytes <= UInt64(UInt16.max)
        else { return .error(.invalidValue) }
        let now = clock.now()
        guard management.keyRequests.makeRoom(now: now) else { return .groupError(AKRPGroupError.keyRequestsFull) }
        let started = monotonicNanoseconds()
        let forget = configuration.keyStore.expiry
        let outcome = startRelay(to: NodeID(UInt32(to)), bytes: Int(bytes)) { [self] id, result in
            localRequestLatency.record(monotonicNanoseconds() &- started)
            let now = clock.now()
            switch result {
            case .success(let key):
                if keys.insert(id, key: key, now: now) {
                    management.keyRequests.delivered(id)
                } else {
                    management.keyRequests.failed(id, reason: "the box's key store is full", until: now &+ forget)
                }
            case .failure(let failure):
                management.keyRequests.failed(id, reason: "\(failure)", until: now &+ forget)
            }
        }
        switch outcome {
        case .success(let id):
            management.keyRequests.started(id)
            return .answer([("status", .text("waiting")), ("id", .text(id.description))])
        case .failure(let refusal):
            let reason: String =
                switch refusal {
                case .refused(let why), .failed(let why): why
                case .shuttingDown: refusal.description
                }
            return .answer([("status", .text("refused")), ("reason", .text(reason))])
        }
    }

    /// Command 2 (write) `{id}` → `{status: "waiting"}`, `{status: "failed", reason}`, or
    /// `{status: "delivered", id, key}` (the key handed out once and wiped here); group error 2 when this
    /// box has no such key.
    func smpKeyGet(_ r: SMPRequest) -> SMPOutcome {
        guard management.currentTransport == "socket" else { return .groupError(AKRPGroupError.keyTransportNotAllowed) }
        guard case .text(let text) = r["id"], let id = RequestID(parsing: text) else { return .error(.invalidValue) }
        switch management.keyRequests.read(id) {
        case .waiting?:
            return .answer([("status", .text("waiting")), ("id", .text(id.description))])
        case .failed(let reason, _)?:
            return .answer([("status", .text("failed")), ("id", .text(id.description)), ("reason", .text(reason))])
        case nil:
            break
        }
        guard let key = keys.take(id) else {
            counters.keysUnknown += 1
            return .groupError(AKRPGroupError.keyUnknown)
        }
        counters.keysFetched += 1
        // The answer's copy of the key lives in the server's scratch array, wiped once the answer is encoded.
        management.secretScratch = Array(UnsafeRawBufferPointer(key.bytes))
        return .answer([("status", .text("delivered")), ("id", .text(id.description)), ("key", .bytes(management.secretScratch))])
    }
}

extension RequestID {
    /// Parses `SOURCE:SERIAL` (two decimal numbers, the source not 0), as ``description`` writes it.
    init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let source = UInt32(parts[0]), source != 0, let serial = UInt32(parts[1]) else { return nil }
        self.init(source: NodeID(source), serial: serial)
    }
}
