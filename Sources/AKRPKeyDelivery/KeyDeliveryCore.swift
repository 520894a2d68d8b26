public import AKRPConfig
import AKRPEngine
public import AKRPNode
public import Logging
import NIOCore

/// The state of key delivery at one box, confined to the node's event loop: the key stocks of the pairs
/// whose master SAE is attached here, the relayed keys held for slave SAEs attached here, and the
/// `enc_keys` requests waiting for key. HTTP connections (on their own loop) call in with
/// ``encKeys(master:slave:number:size:completion:)`` and ``decKeys(master:slave:ids:completion:)``; the
/// completions run on the node's loop.
public final class KeyDeliveryCore: @unchecked Sendable {
    let node: RelayNode
    let settings: KeyDeliverySettings
    /// The SAEs of the network and their authorisation, from the node's configuration.
    public let directory: SAEDirectory
    let metrics: DeliveryMetrics
    let logger: Logger
    /// Bytes of one relay (stock top-up and on-demand alike).
    let relayBytes: Int
    var loop: any EventLoop { node.loop }
    /// Stocks by (master, slave).
    var stocks: [String: PairStock] = [:]
    var retries: [String: Scheduled<Void>] = [:]
    /// Consecutive failed relays per pair (the retry delay doubles with each, up to 5 s).
    var failures: [String: Int] = [:]
    /// Relays in flight per pair at most: a stock refills in steps, never by flooding the engine.
    static let maxRelaysInFlight = 8
    let held: HeldRelays
    var stopped = false
    /// SAE boxes (for recognising a relay as the key delivery's).
    let saeBoxes: Set<NodeID>
    /// Bytes of a restart notice: a relay of this size from another SAE box says that box (re)started and
    /// lost the relays it held for its slave SAEs — stocks toward it are wiped (docs/KEY-DELIVERY.md).
    /// Three key units (five when stock relays are three units long), so that it differs from a stock relay.
    let noticeBytes: Int
    /// Restart notices of this start not yet delivered, by box: the attempt count.
    var noticesPending: [NodeID: Int] = [:]
    /// A box that does not take the notice within this many attempts (~5 minutes) is given up on.
    static let noticeAttempts = 64

    /// The core for `node`, from the node's configuration (which must have a `[key-delivery]` section).
    public init(node: RelayNode, settings: KeyDeliverySettings, metrics: DeliveryMetrics, logger: Logger) {
        self.node = node
        self.settings = settings
        directory = SAEDirectory(configuration: node.configuration)
        self.metrics = metrics
        self.logger = logger
        relayBytes = settings.stockRequestBits / 8
        held = HeldRelays(capacity: settings.heldRelays, expiry: settings.heldExpiry, minimumKeyBytes: settings.minKeySize / 8)
        saeBoxes = Set(node.configuration.saes.map(\.node))
        let unit = node.configuration.engine.unitSize
        noticeBytes = relayBytes == 3 * unit ? 5 * unit : 3 * unit
    }

    static func pairKey(_ master: String, _ slave: String) -> String { master + "\u{0}" + slave }

    /// Installs the claim on relayed keys and starts filling the stocks (call on the node's loop, after
    /// the node started).
    public func start() {
        loop.preconditionInEventLoop()
        let here = directory.node
        node.setRelayClaim { [self] id, bytes in claim(id, bytes) }
        for master in directory.byID.values where master.node == here {
            for slaveID in master.stockFor {
                guard let slave = directory.byID[slaveID] else { continue }
                let stock = PairStock(master: master, slave: slave, depth: settings.stockDepth)
                stocks[Self.pairKey(master.id, slave.id)] = stock
                topUp(stock)
            }
        }
        scheduleHousekeeping()
        // This box lost the relays it held for its slave SAEs (if it ran before): every other SAE box
        // hears of it and wipes its stocks toward this box.
        if saeBoxes.contains(here) {
            for box in saeBoxes.sorted(by: { $0.rawValue < $1.rawValue }) where box != here { sendNotice(to: box) }
        }
        // Stock levels in the box's statistics (SMP group `key-delivery`, `akrpctl stats key-delivery`).
        node.addStatisticsGroup("key-delivery") { [weak self] in
            guard let self else { return [] }
            var figures: [(String, UInt64)] = [("held_relays", UInt64(held.count))]
            for stock in stocks.values.sorted(by: { ($0.master.id, $0.slave.id) < ($1.master.id, $1.slave.id) }) {
                let pair = "stock.\(stock.master.id).\(stock.slave.id)"
                figures += [
                    (pair + ".relays", UInt64(stock.relays.count)), (pair + ".bytes", UInt64(stock.storedBytes)),
                    (pair + ".in_flight", UInt64(stock.inFlight)),
                ]
            }
            return figures
        }
    }

    /// A key delivered here as a destination: kept when it is a key delivery relay (its size, from a box
    /// with SAEs, to a box with SAEs); taken and wiped when it is a restart notice.
    func claim(_ id: RequestID, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !stopped, saeBoxes.contains(id.source), saeBoxes.contains(directory.node) else { return false }
        if bytes.count == noticeBytes && id.source != directory.node {
            restarted(id.source)
            return true
        }
        guard bytes.count == relayBytes else { return false }
        if held.insert(id, key: bytes, now: monotonicNow()) {
            metrics.heldRelays.record(held.count)
        } else {
            metrics.heldRefused.increment()
            logger.warning("relayed key for a slave SAE refused: table full", metadata: ["relay": "\(id)", "held": "\(held.count)"])
        }
        return true
    }

    /// Box `box` (re)started: the relays of every stock toward it are wiped (its copies are gone) and
    /// the stocks refill.
    func restarted(_ box: NodeID) {
        metrics.noticesReceived.increment()
        var wiped = 0
        for stock in stocks.values where stock.slave.node == box {
            wiped += stock.flush()
            report(stock)
            // Not from here: the claim runs while the node handles the engine's events, and a new
            // request would make the node handle them again.
            loop.assumeIsolated().execute { [self] in topUp(stock) }
        }
        logger.notice("box restarted: stocks toward it wiped", metadata: ["box": "\(box.rawValue)", "bytes": "\(wiped)"])
    }

    /// Sends this start's restart notice to `box`, again after a failure (links still coming up) with a
    /// delay that doubles from 100 ms up to 5 s, at most ``noticeAttempts`` times.
    func sendNotice(to box: NodeID) {
        guard !stopped else { return }
        let attempt = (noticesPending[box] ?? 0) + 1
        noticesPending[box] = attempt
        node.requestRelay(to: box, bytes: noticeBytes, awaited: false) { [self] result in
            switch result {
            case .success:
                noticesPending[box] = nil
                metrics.noticesSent.increment()
                logger.info("restart notice delivered", metadata: ["box": "\(box.rawValue)", "attempts": "\(attempt)"])
            case .failure(let failure):
                guard attempt < Self.noticeAttempts else {
                    noticesPending[box] = nil
                    logger.warning(
                        "restart notice not delivered; that box may hand out keys from before this start",
                        metadata: ["box": "\(box.rawValue)", "reason": "\(failure)"])
                    return
                }
                let delay = min(5_000, 100 << min(attempt - 1, 6))
                _ = loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay))) { [self] in sendNotice(to: box) }
            }
        }
    }

    func stock(master: SAERegistration, slave: SAERegistration) -> PairStock {
        let k = Self.pairKey(master.id, slave.id)
        if let s = stocks[k] { return s }
        let s = PairStock(master: master, slave: slave, depth: 0)
        stocks[k] = s
        return s
    }

    /// Requests the relays a stock wants (refill and waiting requests).
    func topUp(_ stock: PairStock) {
        guard !stopped, retries[Self.pairKey(stock.master.id, stock.slave.id)] == nil else { return }
        var n = min(stock.relaysWanted(relayBytes: relayBytes), Self.maxRelaysInFlight - stock.inFlight)
        while n > 0 && !stopped {
            n -= 1
            stock.relayStarted()
            metrics.relaysStarted.increment()
            // A refill nobody waits for may let its confirmation ride with other messages; one that an
            // application waits for (the stock ran dry) comes back at once.
            node.requestRelay(to: stock.slave.node, bytes: relayBytes, awaited: !stock.waiters.isEmpty) { [self] result in
                switch result {
                case .success(let (id, bytes)):
                    failures[Self.pairKey(stock.master.id, stock.slave.id)] = nil
                    metrics.relaysDelivered.increment()
                    stock.relayEnded(stopped ? nil : PairStock.Relay(id: id, key: SecretBytes(copying: bytes)))
                    stock.serveWaiters()
                    report(stock)
                    topUp(stock)
                case .failure(let failure):
                    metrics.relaysFailed.increment()
                    stock.relayEnded(nil)
                    let k = Self.pairKey(stock.master.id, stock.slave.id)
                    let count = (failures[k] ?? 0) + 1
                    failures[k] = count
                    // The first failure after a success is worth a notice; the rest of a streak only a debug line.
                    logger.log(
                        level: count == 1 ? .notice : .debug, "relay for a key stock failed",
                        metadata: [
                            "master": "\(stock.master.id)", "slave": "\(stock.slave.id)", "reason": "\(failure)",
                            "consecutive": "\(count)",
                        ])
                    retryLater(stock)
                }
            }
        }
        report(stock)
    }

    /// After a failure: try again later (never at once: a refusal completes synchronously), 50 ms after the
    /// first failure of a streak, doubling up to 5 s.
    func retryLater(_ stock: PairStock) {
        let k = Self.pairKey(stock.master.id, stock.slave.id)
        guard !stopped, retries[k] == nil else { return }
        let streak = min(failures[k] ?? 1, 8)
        let delay = min(5_000, 50 << (streak - 1))
        retries[k] = loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay))) { [self] in
            retries[k] = nil
            topUp(stock)
        }
    }

    func report(_ stock: PairStock) {
        metrics.stock(master: stock.master.id, slave: stock.slave.id, relays: stock.relays.count, bytes: stock.storedBytes)
    }

    // MARK: - Requests (called from HTTP loops; completions run on the node's loop)

    /// `enc_keys`: `number` keys of `size` bits for (`master`, `slave`) from the stock, or waits up to
    /// `enc-wait-ms` for relays; then 503.
    public func encKeys(
        master: SAERegistration, slave: SAERegistration, number: Int, size: Int,
        completion: @escaping @Sendable (Result<[DeliveredKey], ETSIError>) -> Void
    ) {
        loop.execute { [self] in
            guard !stopped, !node.isShuttingDown else {
                return completion(.failure(ETSIError(503, "the KME is shutting down")))
            }
            let stock = stock(master: master, slave: slave)
            let bytesPerKey = size / 8
            if stock.waiters.isEmpty, let keys = stock.cut(number: number, bytesPerKey: bytesPerKey) {
                completion(.success(keys))
                topUp(stock)
                return
            }
            let waiter = PairStock.Waiter(number: number, bytesPerKey: bytesPerKey, completion: completion)
            let timer = loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(settings.encWait))) { [weak stock, weak waiter] in
                guard let waiter, !waiter.done else { return }
                waiter.done = true
                stock?.removeDoneWaiters()
                waiter.completion(
                    .failure(
                        ETSIError(
                            503, "no key available in time",
                            [("slave_SAE_ID", slave.id), ("waited_ms", "\(self.settings.encWait / 1_000_000)")])))
            }
            waiter.timeout = { timer.cancel() }
            stock.addWaiter(waiter)
            topUp(stock)
        }
    }

    /// `dec_keys`: the keys named by `ids` for the calling `slave` and the path's `master`, each once.
    /// All or nothing: when one key_ID cannot be served, none is handed out.
    public func decKeys(
        master: SAERegistration, slave: SAERegistration, ids: [String],
        completion: @escaping @Sendable (Result<[DeliveredKey], ETSIError>) -> Void
    ) {
        loop.execute { [self] in
            guard !stopped else { return completion(.failure(ETSIError(503, "the KME is shutting down"))) }
            var parsed: [KeyID] = []
            for text in ids {
                guard let id = KeyID(text), id.relay.source == master.node else {
                    return completion(.failure(ETSIError(400, "unknown key_ID", [("key_ID", text)])))
                }
                parsed.append(id)
            }
            // Check every one first, so that a refusal hands out nothing.
            for (i, id) in parsed.enumerated() {
                switch held.check(id, master: master.id, slave: slave.id) {
                case .success: continue
                case .failure(.unknown):
                    return completion(.failure(ETSIError(400, "unknown key_ID (never delivered here, expired, or already fetched)", [("key_ID", ids[i])])))
                case .failure(.notForThisPair):
                    return completion(.failure(ETSIError(401, "not authorised for this key_ID", [("key_ID", ids[i])])))
                }
            }
            var out: [DeliveredKey] = []
            for id in parsed {
                if case .success(let key) = held.take(id, master: master.id, slave: slave.id) {
                    out.append(DeliveredKey(id: id, key: SendableSecret(secret: key)))
                }
            }
            metrics.heldRelays.record(held.count)
            completion(.success(out))
        }
    }

    /// What `status` reports for (`master`, `slave`): keys of the default size in stock now.
    public func storedKeyCount(master: SAERegistration, slave: SAERegistration, completion: @escaping @Sendable (Int) -> Void) {
        loop.execute { [self] in
            let s = stocks[Self.pairKey(master.id, slave.id)]
            completion(s?.keysAvailable(bytesPerKey: settings.defaultKeySize / 8) ?? 0)
        }
    }

    /// The most keys of the default size a full stock holds.
    public var maxKeyCount: Int {
        max(1, settings.stockDepth) * ((relayBytes - KeyID.bindingBytes) / max(1, settings.defaultKeySize / 8))
    }

    func scheduleHousekeeping() {
        guard !stopped else { return }
        _ = loop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            held.expire(now: monotonicNow())
            metrics.heldRelays.record(held.count)
            scheduleHousekeeping()
        }
    }

    /// Stops: waiting requests get 503, every stock and held relay is wiped (call on any thread).
    public func stop() async {
        try? await loop.submit { [self] in
            stopped = true
            node.setRelayClaim(nil)
            for r in retries.values { r.cancel() }
            retries.removeAll()
            for s in stocks.values {
                s.clear(ETSIError(503, "the KME is shutting down"))
                report(s)
            }
            held.removeAll()
            metrics.heldRelays.record(0)
        }.get()
    }
}

/// Monotonic time, nanoseconds.
func monotonicNow() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
