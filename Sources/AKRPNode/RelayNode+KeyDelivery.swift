public import AKRPEngine
import AKRPWire

/// The box's side of the key delivery service (ETSI GS QKD 014, module `AKRPKeyDelivery`): end-to-end
/// relays requested with a completion instead of a control client, and a claim on keys delivered here.
/// Everything here runs on ``RelayNode/loop``.
extension RelayNode {
    /// Why a relay for the key delivery service ended without a key.
    public enum RelayFailure: Error, Sendable, CustomStringConvertible {
        /// The box is stopping.
        case shuttingDown
        /// The engine refused to start it (no route, table full, bad size): the reason as text.
        case refused(String)
        /// The request failed or timed out in the network (the engine's reason, or `timed out`).
        case failed(String)

        /// A short English message: shutting down, or refused / failed with the reason.
        public var description: String {
            switch self {
            case .shuttingDown: "the box is shutting down"
            case .refused(let r): "refused: \(r)"
            case .failed(let r): "failed: \(r)"
            }
        }
    }

    /// Requests an end-to-end key of `bytes` bytes (rounded up to whole units) to `destination`.
    /// `completion` runs on the loop exactly once: with the request's ID and the key bytes — only once the
    /// destination confirmed that it holds the same key (both-or-neither), and valid only during the call
    /// (copy them; they are wiped afterwards) — or with the failure. Call on ``loop``.
    /// `awaited` false marks background work (refilling a stock): nobody waits for this completion, so
    /// the destination's confirmation may travel back with other messages, up to `delivered-hold-ms` per
    /// hop later, sparing frames and their authentication key (docs/PROTOCOL.md §4.12).
    public func requestRelay(
        to destination: NodeID, bytes: Int, awaited: Bool = true,
        completion: @escaping (Result<(RequestID, UnsafeRawBufferPointer), RelayFailure>) -> Void
    ) {
        loop.preconditionInEventLoop()
        let started = startRelay(to: destination, bytes: bytes, awaited: awaited) { id, result in
            switch result {
            case .success(let key): completion(.success((id, key)))
            case .failure(let failure): completion(.failure(failure))
            }
        }
        if case .failure(let refusal) = started { completion(.failure(refusal)) }
    }

    /// Starts an end-to-end relay of `bytes` bytes (rounded up to whole units) to `destination` and returns
    /// its request ID, or why it was refused (then `completion` is never called). Once started,
    /// `completion` runs on the loop exactly once with the request's ID, as for
    /// ``requestRelay(to:bytes:completion:)`` (the key bytes valid only during the call).
    func startRelay(
        to destination: NodeID, bytes: Int, awaited: Bool = true,
        completion: @escaping (RequestID, Result<UnsafeRawBufferPointer, RelayFailure>) -> Void
    ) -> Result<RequestID, RelayFailure> {
        guard !shuttingDown, !stopped else { return .failure(.shuttingDown) }
        let unitSize = configuration.engine.unitSize
        let units = (bytes + unitSize - 1) / unitSize
        guard bytes >= 1, units <= configuration.engine.maxRequestUnits else {
            counters.requestsRefused += 1
            return .failure(.refused("\(bytes) bytes is more than the largest request"))
        }
        let now = clock.now()
        let id: RequestID
        do throws(RequestError) {
            id = try engine.request(
                destination: destination, units: units, now: now, outbox: outbox, awaitingConfirmation: awaited)
        } catch {
            counters.requestsRefused += 1
            return .failure(.refused(Self.refusalText(error, destination: destination)))
        }
        counters.requestsAccepted += 1
        pendingRequests[id] = PendingRequest(
            keyLength: units * unitSize, deadline: now &+ configuration.keyStore.requestTimeout
        ) { id, key, status in
            if let key, status == 0 {
                completion(id, .success(UnsafeRawBufferPointer(rebasing: key.bytes[0..<min(bytes, key.count)])))
            } else {
                let reason =
                    status == KeyResponseStatus.timedOut.rawValue ? "timed out"
                    : status == KeyResponseStatus.shuttingDown.rawValue ? "the box is shutting down"
                    : (FailReason(rawValue: status).map { "\($0)" } ?? "status \(status)")
                completion(id, .failure(.failed(reason)))
            }
        }
        finishStep(now: now)
        return .success(id)
    }

    /// Why the engine refused to start a request, in an operator's words.
    static func refusalText(_ error: RequestError, destination: NodeID) -> String {
        switch error {
        case .unknownDestination: "box \(destination.rawValue) is not in this box's topology"
        case .destinationIsSelf: "box \(destination.rawValue) is this box"
        case .badSize: "the key size is not a whole number of units within the largest request"
        case .tableFull: "the reservation table is full (too many requests in flight)"
        case .noRoute: "no route to box \(destination.rawValue) (links down or no key)"
        }
    }

    /// Installs the claim offered every key delivered here as a destination (before the key store): it
    /// returns true when it keeps a copy of the key. Call on ``loop``; nil removes it. The claim runs while
    /// the node handles the engine's events: it must not call back into the node (``requestRelay(to:bytes:completion:)``
    /// would make the node handle the same events again) — defer such work with `loop.execute`.
    public func setRelayClaim(_ claim: ((RequestID, UnsafeRawBufferPointer) -> Bool)?) {
        loop.preconditionInEventLoop()
        relayClaim = claim
    }

    /// Adds a statistics group that another part of the box keeps (e.g. key delivery's `key-delivery`
    /// group of stock levels): listed and read like the node's own groups (SMP statistics, `akrpctl stats`).
    /// `figures` runs on ``loop``. Call on ``loop``.
    public func addStatisticsGroup(_ name: String, figures: @escaping () -> [(String, UInt64)]) {
        extraStatistics[name] = figures
    }

    /// Whether the box has started its graceful stop (key delivery refuses new requests then).
    public var isShuttingDown: Bool { shuttingDown || stopped }
}

/// One link's figures for the metrics (`akrpd`'s `/metrics`).
public struct LinkMetrics: Sendable {
    /// The neighbour at the other end.
    public var neighbour: NodeID
    /// Whether the link's handshake is complete.
    public var up: Bool
    /// Delivered units available, units held by requests, pool capacity (units).
    public var available: Int
    /// Units held by requests in progress.
    public var held: Int
    /// Unit slots of the pool (`[engine] pool-capacity`, docs/CONFIG.md).
    public var capacity: Int
    /// Units consumed and discarded since start; authentication units sent and received.
    public var consumed: UInt64
    /// Units discarded since start.
    public var discarded: UInt64
    /// Units used for frame authentication since start, sent and received together.
    public var authenticationUnits: UInt64
    /// The link's key source (QKD device, simulated pair or trace) as the `device-N` statistics group
    /// reports it (docs/MANAGEMENT.md): delivering, units delivered, errors, and for USB devices attached,
    /// streaming, units lost, bad CRC, unplugs, ….
    public var device: [(String, UInt64)] = []
}

extension RelayNode {
    /// Whether ``start()`` has bound the listeners and started the engine.
    public func hasStarted() async -> Bool {
        (try? await loop.submit { [self] in engineStarted }.get()) ?? false
    }

    /// Every link's figures and the box's key counters, read on the loop.
    public func metricsSnapshot() async -> (links: [LinkMetrics], keysDelivered: UInt64, requestsFailed: UInt64, unitSize: Int) {
        (try? await loop.submit { [self] in
            var links: [LinkMetrics] = []
            for n in engine.neighbours {
                guard let pool = engine.pool(toward: n) else { continue }
                let peer = peers[n]
                links.append(
                    LinkMetrics(
                        neighbour: n, up: engine.isLinkUp(toward: n), available: pool.availableDelivered, held: pool.heldUnits,
                        capacity: configuration.engine.poolCapacity, consumed: pool.consumedUnits, discarded: pool.discardedUnits,
                        authenticationUnits: (peer?.counters.authenticationUnitsSent ?? 0) + (peer?.counters.authenticationUnitsReceived ?? 0),
                        device: statisticsGroup("device-\(n.rawValue)") ?? []))
            }
            return (links, counters.keysDeliveredAsSource + counters.keysDeliveredAsDestination, engine.counters.requestsFailed,
                    configuration.engine.unitSize)
        }.get()) ?? ([], 0, 0, 0)
    }
}
