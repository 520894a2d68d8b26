import AKRPEngine

/// Delivered end-to-end keys waiting at this box to be fetched by ID, each handed out once.
///
/// Bounded: at most `capacity` keys; a key arriving at a full store is refused and wiped (counted), so a
/// client that never fetches cannot make the box grow. A key not fetched within `expiry` is wiped.
final class KeyStore {
    struct Entry {
        let key: SecretBytes
        let expires: Nanoseconds
    }

    let capacity: Int
    let expiry: Nanoseconds
    private var entries: [RequestID: Entry] = [:]
    /// Keys stored, fetched, expired, and refused because the store was full or the ID was taken.
    private(set) var stored: UInt64 = 0
    private(set) var fetched: UInt64 = 0
    private(set) var expired: UInt64 = 0
    private(set) var refused: UInt64 = 0
    /// Earliest expiry of a held key.
    private(set) var nextExpiry: Nanoseconds = .max

    init(capacity: Int, expiry: Nanoseconds) {
        self.capacity = capacity
        self.expiry = expiry
        entries.reserveCapacity(min(capacity, 1 << 16))
    }

    var count: Int { entries.count }

    /// Stores a copy of `key` under `id`. Returns false (and keeps nothing) when the store is full or
    /// already holds that ID (request IDs can repeat across restarts of their source; the older key wins).
    @discardableResult
    func insert(_ id: RequestID, key: UnsafeRawBufferPointer, now: Nanoseconds) -> Bool {
        guard entries.count < capacity, entries[id] == nil else {
            refused += 1
            return false
        }
        let expires = now &+ expiry
        entries[id] = Entry(key: SecretBytes(copying: key), expires: expires)
        nextExpiry = min(nextExpiry, expires)
        stored += 1
        return true
    }

    /// Takes the key `id` out of the store: the caller uses it and lets it go (which wipes it).
    func take(_ id: RequestID) -> SecretBytes? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        fetched += 1
        return entry.key
    }

    /// Wipes the keys whose time is up.
    func expire(now: Nanoseconds) {
        guard now >= nextExpiry else { return }
        var next: Nanoseconds = .max
        for (id, entry) in entries {
            if entry.expires <= now {
                entries[id] = nil
                expired += 1
            } else {
                next = min(next, entry.expires)
            }
        }
        nextExpiry = next
    }

    /// Wipes every key (shutdown).
    func removeAll() {
        entries.removeAll()
        nextExpiry = .max
    }
}
