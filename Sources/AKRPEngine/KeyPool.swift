/// The state of one key unit at one end of a link.
public enum UnitState: UInt8, Sendable {
    /// Free: may be reserved (by its owner end) or proposed (by the other end).
    case available = 0
    /// Proposed by this end for a request, but owned by the other end, which decides.
    case proposed = 1
    /// Bound to a request; both ends will consume it for that request, or discard it.
    case bound = 2
    /// Used for a request; bytes wiped.
    case consumed = 3
    /// Burned without use (crash, doubt, refusal); bytes wiped.
    case discarded = 4
}

/// Errors of the key pool.
public enum KeyPoolError: Error, Sendable, Equatable {
    /// The pool has no room for the unit (the ring is full); deliver again later.
    case full
    /// The delivered unit is not the next one the pool expects.
    case outOfOrder(expected: UnitIndex, got: UnitIndex)
    /// The byte count is not a whole number of units.
    case badLength
    /// The pool has not been positioned in its key stream yet.
    case notStarted
}

/// The key of one link at one end: a fixed-capacity ring of key units, allocated once.
///
/// Units `[head, tail)` have been delivered by the device; units `[tail, head + capacity)` are future
/// units that may already be reserved. The head advances past units that are consumed or discarded.
/// Unit ownership for allocation alternates in blocks of `ownershipBlock` units: the low end of the link
/// owns even blocks, the high end odd blocks (see `docs/PROTOCOL.md`, CD&R).
public final class KeyPool {
    /// Units the ring holds (the window: head ..< head + capacity).
    public let capacity: Int
    /// Bytes per unit.
    public let unitSize: Int
    /// Units per ownership block (CD&R: the low end owns even blocks, the high end odd ones).
    public let ownershipBlock: UInt64
    /// Whether this end is the link's low end.
    public let isLowEnd: Bool
    /// Oldest unit still tracked.
    public private(set) var head: UnitIndex = 0
    /// Next unit the device will deliver.
    public private(set) var tail: UnitIndex = 0
    /// Whether the pool has been positioned (it starts unpositioned and takes the first delivery's index).
    public private(set) var started = false
    /// Largest unit index ever proposed or bound here, plus one.
    public private(set) var referencedEnd: UnitIndex = 0

    private let bytes: UnsafeMutableRawBufferPointer
    private let states: UnsafeMutablePointer<UInt8>
    private let holders: UnsafeMutablePointer<UInt32>

    // Counters, in units.
    /// Units the device delivered into the pool.
    public private(set) var deliveredUnits: UInt64 = 0
    /// Units consumed (into keys, shares or authentication).
    public private(set) var consumedUnits: UInt64 = 0
    /// Units discarded (never used).
    public private(set) var discardedUnits: UInt64 = 0
    /// Units that are proposed or bound right now.
    public private(set) var heldUnits: Int = 0
    /// Delivered units currently available (free and present).
    public private(set) var availableDelivered: Int = 0

    /// Allocates the ring. This is the only allocation a pool ever makes.
    public init(capacity: Int, unitSize: Int, ownershipBlock: UInt64, isLowEnd: Bool) {
        precondition(capacity > 0 && unitSize > 0 && ownershipBlock > 0)
        self.capacity = capacity
        self.unitSize = unitSize
        self.ownershipBlock = ownershipBlock
        self.isLowEnd = isLowEnd
        bytes = .allocate(byteCount: capacity * unitSize, alignment: 16)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        states = .allocate(capacity: capacity)
        states.initialize(repeating: UnitState.available.rawValue, count: capacity)
        holders = .allocate(capacity: capacity)
        holders.initialize(repeating: 0, count: capacity)
    }

    deinit {
        wipe(bytes)
        bytes.deallocate()
        states.deallocate()
        holders.deallocate()
    }

    @inline(__always) private func slot(_ i: UnitIndex) -> Int { Int(i % UInt64(capacity)) }

    /// One past the last unit the ring can track now.
    public var windowEnd: UnitIndex { head &+ UInt64(capacity) }
    /// Free slots for deliveries.
    public var room: Int { started ? Int(windowEnd - tail) : capacity }

    /// Whether this end owns `index` for allocation.
    @inline(__always) public func ownsUnit(_ index: UnitIndex) -> Bool {
        ((index / ownershipBlock) & 1 == 0) == isLowEnd
    }

    /// Whether `index` is inside the tracked window.
    @inline(__always) public func inWindow(_ index: UnitIndex) -> Bool {
        started && index >= head && index < windowEnd
    }

    /// State of a unit; units before the head count as discarded (gone), units past the window as
    /// available only once the window reaches them.
    public func state(_ index: UnitIndex) -> UnitState {
        guard started, index >= head else { return .discarded }
        guard index < windowEnd else { return .available }
        return UnitState(rawValue: states[slot(index)]) ?? .discarded
    }

    /// The holder token (record slot + 1) of a proposed or bound unit, 0 otherwise.
    public func holder(_ index: UnitIndex) -> UInt32 {
        guard inWindow(index) else { return 0 }
        return holders[slot(index)]
    }

    /// Whether the unit's bytes have been delivered.
    @inline(__always) public func isDelivered(_ index: UnitIndex) -> Bool { started && index < tail }

    /// Positions an unstarted pool, or skips a started one forward to `index`: every unit below it is
    /// discarded (never reused) and the device must continue at `index` or later. Used at link
    /// (re)synchronisation. Returns how many units were discarded.
    @discardableResult
    public func skip(to index: UnitIndex) -> Int {
        if !started {
            // Positioned by the resynchronisation. If the device turns out to be further on, its first
            // delivery is a forward gap: units reserved below it are discarded, never used.
            started = true
            head = index
            tail = index
            referencedEnd = index
            return 0
        }
        if index <= head { return 0 }
        var n = 0
        var i = head
        let stop = min(index, windowEnd)
        while i < stop {
            if burn(i) { n += 1 }
            // The slot now belongs to unit i + capacity.
            states[slot(i)] = UnitState.available.rawValue
            i += 1
        }
        head = index
        if tail < index { tail = index }
        if referencedEnd < index { referencedEnd = index }
        return n
    }

    /// Moves the pool toward `index` without touching units held by requests: every *available* unit below
    /// `index` (delivered or future) is discarded and the head advances over whatever is gone. When nothing
    /// is held this is ``skip(to:)`` (the tail moves too if it is behind). For a shell that learns the other
    /// end of the link is further on: units it has already retired are useless here, but a unit bound to a
    /// request in flight may still be consumed by that request's commit at both ends.
    /// Returns how many units were discarded.
    @discardableResult
    public func discardAvailable(below index: UnitIndex) -> Int {
        guard started, index > head else { return 0 }
        if heldUnits == 0 { return skip(to: index) }
        var n = 0
        var i = head
        let stop = min(index, windowEnd)
        while i < stop {
            if states[slot(i)] == UnitState.available.rawValue, burn(i) { n += 1 }
            i += 1
        }
        advanceHead(limit: tail)
        return n
    }

    /// Discards every unit that is not consumed and that this end has ever delivered or referenced
    /// (a peer restarted): everything below `max(tail, referencedEnd)`. Units past that were never
    /// proposed or bound here, so no request can have used them. Returns how many were discarded.
    @discardableResult
    public func discardAll() -> Int {
        guard started else { return 0 }
        var n = 0
        var i = head
        let stop = min(windowEnd, max(tail, referencedEnd))
        while i < stop {
            if burn(i) { n += 1 }
            i += 1
        }
        advanceHead(limit: tail)
        return n
    }

    /// Marks a tracked unit that is not consumed as discarded (wiping delivered bytes) and keeps the
    /// counters right. Returns whether the unit was burned now (false if already consumed or discarded).
    private func burn(_ i: UnitIndex) -> Bool {
        let s = slot(i)
        let st = states[s]
        guard st == UnitState.available.rawValue || st == UnitState.proposed.rawValue
            || st == UnitState.bound.rawValue
        else { return false }
        if st != UnitState.available.rawValue { heldUnits -= 1 }
        if st == UnitState.available.rawValue && i < tail { availableDelivered -= 1 }
        states[s] = UnitState.discarded.rawValue
        holders[s] = 0
        if i < tail { wipeSlot(s) }
        discardedUnits += 1
        return true
    }

    /// Stores delivered key units; they must be the next units of the stream (`index == tail`).
    /// A unit that was discarded while still in the future is wiped at once.
    /// - Throws: `.full` when the ring has no room for all of them, `.outOfOrder`, `.badLength`.
    /// Units the device skipped (a forward gap in its stream) are discarded here: they are lost.
    /// A delivery below `tail` (a rewind or a repeat) is refused: a unit is never stored twice.
    /// Returns how many units a forward gap discarded.
    @discardableResult
    public func deliver(index: UnitIndex, bytes source: UnsafeRawBufferPointer) throws(KeyPoolError) -> Int {
        guard source.count > 0, source.count % unitSize == 0 else { throw .badLength }
        let count = source.count / unitSize
        if !started {
            started = true
            head = index
            tail = index
            referencedEnd = index
        }
        guard index >= tail else { throw .outOfOrder(expected: tail, got: index) }
        var lost = 0
        if index > tail {
            // The device lost units (or resumed past a resync point): they can never be used here.
            if index <= windowEnd {
                var i = tail
                while i < index {
                    if burn(i) { lost += 1 }
                    i += 1
                }
                tail = index
                advanceHead(limit: tail)
            } else {
                lost = skip(to: index)
            }
        }
        guard count <= room else { throw .full }
        // One copy per contiguous stretch of the ring (at most two), then the units' bookkeeping in order.
        var k = 0
        while k < count {
            let first = slot(tail)
            let stretch = min(count - k, capacity - first)
            (bytes.baseAddress! + first * unitSize).copyMemory(
                from: source.baseAddress! + k * unitSize, byteCount: stretch * unitSize)
            var j = 0
            while j < stretch {
                let s = first + j
                tail += 1
                deliveredUnits += 1
                let st = states[s]
                if st == UnitState.discarded.rawValue {
                    wipeSlot(s)
                } else if st == UnitState.available.rawValue {
                    availableDelivered += 1
                }
                j += 1
            }
            k += stretch
        }
        advanceHead(limit: tail)
        return lost
    }

    /// Marks `index` as proposed or bound for `holder` (a non-zero token).
    public func hold(_ index: UnitIndex, holder: UInt32, as state: UnitState) {
        precondition(state == .proposed || state == .bound)
        guard inWindow(index) else { return }
        let s = slot(index)
        let old = states[s]
        if old == UnitState.available.rawValue {
            heldUnits += 1
            if index < tail { availableDelivered -= 1 }
        }
        states[s] = state.rawValue
        holders[s] = holder
        if index &+ 1 > referencedEnd { referencedEnd = index &+ 1 }
    }

    /// Returns a proposed or bound unit to the available state.
    public func free(_ index: UnitIndex) {
        guard inWindow(index) else { return }
        let s = slot(index)
        let old = states[s]
        guard old == UnitState.proposed.rawValue || old == UnitState.bound.rawValue else { return }
        states[s] = UnitState.available.rawValue
        holders[s] = 0
        heldUnits -= 1
        if index < tail { availableDelivered += 1 }
    }

    /// Burns a unit: it is never used. Delivered bytes are wiped.
    public func discard(_ index: UnitIndex) {
        if retire(index, as: .discarded) { discardedUnits += 1 }
    }

    /// Moves a unit that is not yet consumed or discarded to `state` (consumed or discarded), wiping
    /// delivered bytes and keeping the counters right. Returns whether it changed.
    private func retire(_ index: UnitIndex, as state: UnitState) -> Bool {
        guard inWindow(index) else { return false }
        let s = slot(index)
        let old = states[s]
        guard old != UnitState.consumed.rawValue && old != UnitState.discarded.rawValue else { return false }
        if old == UnitState.proposed.rawValue || old == UnitState.bound.rawValue { heldUnits -= 1 }
        if old == UnitState.available.rawValue && index < tail { availableDelivered -= 1 }
        states[s] = state.rawValue
        holders[s] = 0
        if index < tail { wipeSlot(s) }
        advanceHead(limit: tail)
        return true
    }

    /// Copies the bytes of a delivered unit into `target` (at least `unitSize` bytes) without changing
    /// its state. Returns false when the unit is not delivered or not tracked.
    public func copy(_ index: UnitIndex, into target: UnsafeMutableRawBufferPointer) -> Bool {
        guard inWindow(index), index < tail, target.count >= unitSize else { return false }
        target.baseAddress!.copyMemory(from: bytes.baseAddress! + slot(index) * unitSize, byteCount: unitSize)
        return true
    }

    /// Marks a unit used to authenticate a frame: consumed, wiped, never used again.
    public func discardForAuthentication(_ index: UnitIndex) {
        if retire(index, as: .consumed) { consumedUnits += 1 }
    }

    /// Whether `index` is delivered and bound to `holder`, so that ``consume(_:holder:xorInto:at:)`` will use it.
    @inline(__always)
    public func isConsumable(_ index: UnitIndex, holder: UInt32) -> Bool {
        guard inWindow(index), index < tail else { return false }
        let s = slot(index)
        return states[s] == UnitState.bound.rawValue && holders[s] == holder
    }

    /// XORs the bytes of a delivered unit bound to `holder` into `target` at `offset`, then marks it
    /// consumed and wipes it. A unit that is not delivered or not bound to `holder` is never used: it is
    /// discarded instead and the call returns false (a consistency fault; the caller abandons the key).
    @discardableResult
    public func consume(
        _ index: UnitIndex, holder: UInt32, xorInto target: UnsafeMutableRawBufferPointer, at offset: Int
    ) -> Bool {
        guard inWindow(index), index < tail, offset >= 0, offset + unitSize <= target.count else { return false }
        let s = slot(index)
        guard states[s] == UnitState.bound.rawValue, holders[s] == holder else {
            discard(index)
            return false
        }
        xorSlot(s, into: target.baseAddress! + offset)
        heldUnits -= 1
        states[s] = UnitState.consumed.rawValue
        holders[s] = 0
        consumedUnits += 1
        wipeSlot(s)
        advanceHead(limit: tail)
        return true
    }

    /// XORs the bytes of ring slot `s` into the `unitSize` bytes at `destination`.
    @inline(__always)
    private func xorSlot(_ s: Int, into destination: UnsafeMutableRawPointer) {
        xorBytes(into: destination, from: UnsafeRawPointer(bytes.baseAddress! + s * unitSize), count: unitSize)
    }

    /// Consumes `count` consecutive units from `start` for `holder` as ``consume(_:holder:xorInto:at:)``
    /// does unit by unit (the unit at `start + k` XORed into `target` at `offset + k * unitSize`), but
    /// wipes their bytes with one ``wipe(_:)`` per contiguous stretch of the ring and advances the head
    /// once. When a unit of the run is not delivered and bound to `holder`, or `target` is too small, the
    /// run goes through ``consume(_:holder:xorInto:at:)`` unit by unit instead, with its exact outcome.
    /// Returns whether every unit was consumed.
    ///
    /// The engine calls it right after checking every unit of the run with ``isConsumable(_:holder:)``
    /// (`checked`): it does not check them a second time then.
    @discardableResult
    func consumeRun(
        start: UnitIndex, count: Int, holder: UInt32, xorInto target: UnsafeMutableRawBufferPointer, at offset: Int,
        checked: Bool = false
    ) -> Bool {
        guard count > 0 else { return true }
        var whole = offset >= 0 && offset + count * unitSize <= target.count
        var k = 0
        while whole && !checked && k < count {
            whole = isConsumable(start &+ UInt64(k), holder: holder)
            k += 1
        }
        guard whole else {
            var all = true
            k = 0
            while k < count {
                if !consume(start &+ UInt64(k), holder: holder, xorInto: target, at: offset + k * unitSize) { all = false }
                k += 1
            }
            return all
        }
        let first = slot(start)
        k = 0
        while k < count {
            var s = first + k
            if s >= capacity { s -= capacity }
            xorSlot(s, into: target.baseAddress! + offset + k * unitSize)
            states[s] = UnitState.consumed.rawValue
            holders[s] = 0
            k += 1
        }
        heldUnits -= count
        consumedUnits += UInt64(count)
        // The run's slots: up to the ring's end, then from its start (every unit is in the window, so
        // `count` <= `capacity`).
        let firstStretch = min(count, capacity - first)
        wipe(UnsafeMutableRawBufferPointer(rebasing: bytes[(first * unitSize)..<((first + firstStretch) * unitSize)]))
        if firstStretch < count {
            wipe(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<((count - firstStretch) * unitSize)]))
        }
        advanceHead(limit: tail)
        return true
    }

    /// Finds the lowest unit at or after `from` that is available and that this end may take:
    /// owned units when `owned` is true, the other end's otherwise. Returns nil when none lies before `limit`.
    public func nextAvailable(from: UnitIndex, owned: Bool, limit: UnitIndex) -> UnitIndex? {
        guard started else { return nil }
        var i = max(from, head)
        let end = min(limit, windowEnd)
        while i < end {
            if ownsUnit(i) != owned {
                // Jump to the next block of the wanted owner.
                i = (i / ownershipBlock + 1) * ownershipBlock
                continue
            }
            if states[slot(i)] == UnitState.available.rawValue { return i }
            i += 1
        }
        return nil
    }

    private func advanceHead(limit: UnitIndex) {
        while head < limit {
            let s = slot(head)
            let st = states[s]
            guard st == UnitState.consumed.rawValue || st == UnitState.discarded.rawValue else { break }
            states[s] = UnitState.available.rawValue
            holders[s] = 0
            head += 1
        }
    }

    @inline(__always) private func wipeSlot(_ s: Int) {
        wipe(UnsafeMutableRawBufferPointer(rebasing: bytes[(s * unitSize)..<((s + 1) * unitSize)]))
    }
}

/// XORs `count` bytes at `source` into `destination`, eight bytes at a time, then byte by byte: the one
/// XOR loop of the engine (consumption of units, relay-share accumulators).
@inline(__always)
func xorBytes(into destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
    var b = 0
    while b + 8 <= count {
        let v = destination.loadUnaligned(fromByteOffset: b, as: UInt64.self)
            ^ source.loadUnaligned(fromByteOffset: b, as: UInt64.self)
        destination.storeBytes(of: v, toByteOffset: b, as: UInt64.self)
        b += 8
    }
    while b < count {
        let v = destination.load(fromByteOffset: b, as: UInt8.self) ^ source.load(fromByteOffset: b, as: UInt8.self)
        destination.storeBytes(of: v, toByteOffset: b, as: UInt8.self)
        b += 1
    }
}
