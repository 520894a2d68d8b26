import AKRPConfig
import AKRPEngine
import AKRPNode

/// The master side of one (master SAE, slave SAE) pair at the master's box: relayed keys not yet cut to
/// the end, cut front to back into the keys `enc_keys` hands out (each key once, its bytes wiped here as
/// soon as they are copied out), and the `enc_keys` requests waiting for key. Confined to the node's loop.
final class PairStock {
    /// One relayed end-to-end key in the stock.
    final class Relay {
        let id: RequestID
        let key: SecretBytes
        /// The next byte to cut (the first ``KeyID/bindingBytes`` bind the key_IDs and are never cut).
        var next = KeyID.bindingBytes

        init(id: RequestID, key: SecretBytes) {
            self.id = id
            self.key = key
        }

        var remaining: Int { key.count - next }
    }

    /// An `enc_keys` request waiting for key.
    final class Waiter {
        let number: Int
        let bytesPerKey: Int
        let completion: (Result<[DeliveredKey], ETSIError>) -> Void
        var timeout: (() -> Void)?
        var done = false

        init(number: Int, bytesPerKey: Int, completion: @escaping (Result<[DeliveredKey], ETSIError>) -> Void) {
            self.number = number
            self.bytesPerKey = bytesPerKey
            self.completion = completion
        }
    }

    let master: SAERegistration
    let slave: SAERegistration
    /// Relayed keys kept in stock (requests in flight count toward it); 0 for a pair without a stock.
    let depth: Int
    private(set) var relays: [Relay] = []
    private(set) var inFlight = 0
    private(set) var waiters: [Waiter] = []
    /// Bytes cut off the end of a relay because the next key did not fit (wiped).
    private(set) var wastedBytes: UInt64 = 0

    init(master: SAERegistration, slave: SAERegistration, depth: Int) {
        self.master = master
        self.slave = slave
        self.depth = depth
    }

    /// Bytes that can still be cut.
    var storedBytes: Int { relays.reduce(0) { $0 + $1.remaining } }

    /// Keys of `bytesPerKey` bytes the stock holds now.
    func keysAvailable(bytesPerKey: Int) -> Int {
        relays.reduce(0) { $0 + $1.remaining / max(bytesPerKey, 1) }
    }

    /// Relays to request now: enough to refill the stock and to serve every waiter.
    func relaysWanted(relayBytes: Int) -> Int {
        let usable = relayBytes - KeyID.bindingBytes
        var need = 0
        var have = relays.map(\.remaining)
        for w in waiters where !w.done {
            var missing = w.number
            for i in have.indices where missing > 0 {
                let n = min(missing, have[i] / w.bytesPerKey)
                missing -= n
                have[i] -= n * w.bytesPerKey
            }
            if missing > 0 { need += (missing + usable / w.bytesPerKey - 1) / max(usable / w.bytesPerKey, 1) }
        }
        let refill = max(0, depth - relays.count)
        return max(0, max(need, refill) - inFlight)
    }

    func relayStarted() { inFlight += 1 }

    func relayEnded(_ relay: Relay?) {
        inFlight -= 1
        if let relay { relays.append(relay) }
    }

    /// Cuts `number` keys of `bytesPerKey` bytes, or nothing when the stock holds fewer.
    func cut(number: Int, bytesPerKey: Int) -> [DeliveredKey]? {
        guard keysAvailable(bytesPerKey: bytesPerKey) >= number else { return nil }
        var out: [DeliveredKey] = []
        out.reserveCapacity(number)
        while out.count < number, let relay = relays.first {
            if relay.remaining < bytesPerKey {
                dropFront()
                continue
            }
            let offset = relay.next
            let tag = KeyID.bindingTag(
                binding: UnsafeRawBufferPointer(rebasing: relay.key.bytes[0..<KeyID.bindingBytes]),
                master: master.id, slave: slave.id, offset: offset, length: bytesPerKey)
            let piece = relay.key.bytes[offset..<(offset + bytesPerKey)]
            let key = SecretBytes(copying: UnsafeRawBufferPointer(rebasing: piece))
            wipe(UnsafeMutableRawBufferPointer(rebasing: piece))
            relay.next += bytesPerKey
            out.append(DeliveredKey(id: KeyID(relay: relay.id, offset: offset, length: bytesPerKey, tag: tag), key: SendableSecret(secret: key)))
        }
        if let first = relays.first, first.remaining == 0 { dropFront() }
        return out
    }

    private func dropFront() {
        let relay = relays.removeFirst()
        wastedBytes += UInt64(relay.remaining)
    }

    func addWaiter(_ w: Waiter) { waiters.append(w) }

    /// Serves the waiters in order while the stock holds enough for the first.
    func serveWaiters() {
        while let w = waiters.first {
            if w.done {
                waiters.removeFirst()
                continue
            }
            guard let keys = cut(number: w.number, bytesPerKey: w.bytesPerKey) else { return }
            waiters.removeFirst()
            w.done = true
            w.timeout?()
            w.completion(.success(keys))
        }
    }

    /// Answers every waiter with `error` and empties the stock (shutdown).
    func clear(_ error: ETSIError) {
        for w in waiters where !w.done {
            w.done = true
            w.timeout?()
            w.completion(.failure(error))
        }
        waiters.removeAll()
        relays.removeAll()
    }

    func removeDoneWaiters() { waiters.removeAll { $0.done } }

    /// Wipes every relay in stock (the slave's box restarted and lost its copies); waiting requests and
    /// relays in flight stay. Returns the bytes wiped.
    func flush() -> Int {
        let bytes = storedBytes
        relays.removeAll()
        return bytes
    }
}
