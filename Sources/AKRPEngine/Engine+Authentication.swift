/// Key for authenticating frames between neighbours, paid by the link pools (Wegman–Carter).
///
/// Frames are keyed by key units owned by their *sender*: a unit serves either as a recycled hash key or
/// as four 8-byte one-time pads, and the frame's sequence number names its pad unit and slot
/// (docs/WIRE.md §4.6, "pool-keyed frames with a recycled hash key"). The sender takes its own delivered,
/// available units in increasing index order (it is their owner, so its choice binds both ends, as in
/// CD&R); the receiver looks the named unit up in its copy of the pool, verifies, and only then consumes
/// it. Units are consumed at both ends, so authentication key is never reused and is accounted in the
/// pools (`authenticationUnits`). A forged frame cannot make the receiver burn key: nothing is consumed
/// before the tag verifies. `authenticationReserve` of the sender's own delivered units are kept away
/// from requests so that frames can always be keyed.
extension Engine {
    /// Bytes of link key one authentication unit holds (a hash key, or four frames' pads).
    public var authenticationKeyBytes: Int { configuration.unitSize }

    /// Takes the next authentication unit toward `neighbour` (a hash key or a pad unit, docs/WIRE.md §4.6):
    /// the lowest own delivered, available unit above the last one used. Copies its bytes into `key` (at
    /// least 32 bytes; the unit size must be ≥ 32), consumes it, and returns its index, which the frames
    /// name (the hash key in the trailer, a pad unit in the sequence number). Nil when no such unit is
    /// delivered yet (the frame must wait for key).
    public func takeAuthenticationKey(
        toward neighbour: NodeID, into key: UnsafeMutableRawBufferPointer
    ) -> UnitIndex? {
        guard let session = self.session(of: neighbour), configuration.unitSize >= 32, key.count >= 32 else { return nil }
        let pool = pools[session]
        let from = max(pool.head, sessions[session].authenticationSent &+ 1)
        guard let u = pool.nextAvailable(from: from, owned: true, limit: pool.tail) else { return nil }
        pool.hold(u, holder: Self.authenticationToken, as: .bound)
        wipe(UnsafeMutableRawBufferPointer(rebasing: key[0..<32]))
        guard pool.consume(u, holder: Self.authenticationToken, xorInto: key, at: 0) else { return nil }
        sessions[session].authenticationSent = u
        counters.authenticationUnitsSent += 1
        return u
    }

    /// Looks up the key of a frame from `neighbour` that carries sequence number `index`, without
    /// consuming it. Nil when the unit cannot be a fresh authentication key from that neighbour: not
    /// owned by it, not above the last accepted one, not delivered here yet, or already used.
    public func authenticationKey(
        from neighbour: NodeID, index: UnitIndex, into key: UnsafeMutableRawBufferPointer
    ) -> Bool {
        guard let session = self.session(of: neighbour), configuration.unitSize >= 32, key.count >= 32 else { return false }
        let pool = pools[session]
        guard !pool.ownsUnit(index), index > sessions[session].authenticationReceived, pool.isDelivered(index),
            pool.inWindow(index)
        else { return false }
        switch pool.state(index) {
        case .available, .proposed:
            break
        case .bound:
            // Bound here to a branch the owner has since given up (it only keys frames with free units);
            // only an uncommitted branch can lose it.
            let other = Int(pool.holder(index)) - 1
            guard other >= 0, other < configuration.recordCapacity, records[other].state != .committed else {
                return false
            }
        case .consumed, .discarded:
            return false
        }
        return pool.copy(index, into: key)
    }

    /// Consumes the key unit of a frame from `neighbour` whose tag verified: it is never used again, and
    /// only later units can key later frames.
    public func consumeAuthenticationKey(from neighbour: NodeID, index: UnitIndex) {
        guard let session = self.session(of: neighbour) else { return }
        let pool = pools[session]
        let holder = Int(pool.holder(index)) - 1
        if pool.state(index) == .bound && holder >= 0 && holder < configuration.recordCapacity {
            records[holder].broken = true
            counters.conflictsResolved += 1
        }
        pool.hold(index, holder: Self.authenticationToken, as: .bound)
        pool.discardForAuthentication(index)
        if index > sessions[session].authenticationReceived { sessions[session].authenticationReceived = index }
        counters.authenticationUnitsReceived += 1
    }

    /// Holder token of units taken for authentication (never a record slot).
    static let authenticationToken: UInt32 = .max
}
