import AKRPEngine
import AKRPNode

/// The slave side: relayed keys delivered at this box for its slave SAEs, waiting to be fetched by
/// key_ID. Bounded (`capacity` relays; a relay arriving at a full table is refused and wiped), each key
/// range handed out once and wiped at once, a relay wiped when nothing fetchable is left or when it
/// expires. Confined to the node's loop.
final class HeldRelays {
    final class Held {
        let key: SecretBytes
        let expires: UInt64
        /// Offsets already handed out.
        var taken: Set<Int> = []
        var takenBytes = 0

        init(key: SecretBytes, expires: UInt64) {
            self.key = key
            self.expires = expires
        }
    }

    let capacity: Int
    let expiry: UInt64
    let minimumKeyBytes: Int
    private(set) var relays: [RequestID: Held] = [:]
    private(set) var refused: UInt64 = 0
    private(set) var expired: UInt64 = 0

    init(capacity: Int, expiry: UInt64, minimumKeyBytes: Int) {
        self.capacity = capacity
        self.expiry = expiry
        self.minimumKeyBytes = max(1, minimumKeyBytes)
    }

    var count: Int { relays.count }

    /// Keeps a copy of a relayed key. False when the table is full or holds that ID.
    func insert(_ id: RequestID, key: UnsafeRawBufferPointer, now: UInt64) -> Bool {
        guard relays.count < capacity, relays[id] == nil, key.count > KeyID.bindingBytes else {
            refused += 1
            return false
        }
        relays[id] = Held(key: SecretBytes(copying: key), expires: now &+ expiry)
        return true
    }

    /// Why a key_ID cannot be served.
    enum Refusal: Error {
        /// Never here, expired, or already handed out.
        case unknown
        /// The binding tag does not match this (master, slave) pair.
        case notForThisPair
    }

    /// Whether ``take(_:master:slave:)`` would succeed, without taking.
    func check(_ id: KeyID, master: String, slave: String) -> Result<Void, Refusal> {
        guard let held = relays[id.relay], id.offset >= KeyID.bindingBytes, id.offset + id.length <= held.key.count,
            !held.taken.contains(id.offset)
        else { return .failure(.unknown) }
        let tag = KeyID.bindingTag(
            binding: UnsafeRawBufferPointer(rebasing: held.key.bytes[0..<KeyID.bindingBytes]), master: master, slave: slave,
            offset: id.offset, length: id.length)
        return tag == id.tag ? .success(()) : .failure(.notForThisPair)
    }

    /// Takes the key named by `id` for the pair (`master`, `slave`): checks its binding tag, hands it out
    /// once and wipes it here.
    func take(_ id: KeyID, master: String, slave: String) -> Result<SecretBytes, Refusal> {
        if case .failure(let refusal) = check(id, master: master, slave: slave) { return .failure(refusal) }
        guard let held = relays[id.relay] else { return .failure(.unknown) }
        let piece = held.key.bytes[id.offset..<(id.offset + id.length)]
        let key = SecretBytes(copying: UnsafeRawBufferPointer(rebasing: piece))
        wipe(UnsafeMutableRawBufferPointer(rebasing: piece))
        held.taken.insert(id.offset)
        held.takenBytes += id.length
        if held.key.count - KeyID.bindingBytes - held.takenBytes < minimumKeyBytes { relays[id.relay] = nil }
        return .success(key)
    }

    /// Wipes the relays whose time is up.
    func expire(now: UInt64) {
        for (id, held) in relays where held.expires <= now {
            relays[id] = nil
            expired += 1
        }
    }

    /// Wipes everything (shutdown).
    func removeAll() { relays.removeAll() }
}
