/// A fixed-capacity open-addressing index from (request, branch) to a slot number, allocated once.
/// Linear probing with backward-shift deletion (no tombstones). Full is reported, never a trap.
final class SlotIndex {
    private let mask: Int
    private let keys: UnsafeMutablePointer<UInt64>
    private let branches: UnsafeMutablePointer<UInt8>
    private let values: UnsafeMutablePointer<Int32>
    private(set) var count = 0
    let capacity: Int

    /// An index for at most `capacity` entries.
    init(capacity: Int) {
        self.capacity = capacity
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        mask = size - 1
        keys = .allocate(capacity: size)
        keys.initialize(repeating: 0, count: size)
        branches = .allocate(capacity: size)
        branches.initialize(repeating: 0, count: size)
        values = .allocate(capacity: size)
        values.initialize(repeating: -1, count: size)
    }

    deinit {
        keys.deallocate()
        branches.deallocate()
        values.deallocate()
    }

    @inline(__always) private static func key(_ r: RequestID) -> UInt64 {
        UInt64(r.source.rawValue) << 32 | UInt64(r.serial)
    }

    @inline(__always) private func home(_ k: UInt64, _ b: UInt8) -> Int {
        var h = k &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(b) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 29
        return Int(truncatingIfNeeded: h) & mask
    }

    /// The slot stored for the key, or nil.
    func find(_ r: RequestID, _ b: UInt8) -> Int? {
        let k = Self.key(r)
        var i = home(k, b)
        while values[i] >= 0 {
            if keys[i] == k && branches[i] == b { return Int(values[i]) }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Stores a new key. Returns false when the index is full or the key exists.
    func insert(_ r: RequestID, _ b: UInt8, slot: Int) -> Bool {
        guard count < capacity else { return false }
        let k = Self.key(r)
        var i = home(k, b)
        while values[i] >= 0 {
            if keys[i] == k && branches[i] == b { return false }
            i = (i + 1) & mask
        }
        keys[i] = k
        branches[i] = b
        values[i] = Int32(slot)
        count += 1
        return true
    }

    /// Removes a key if present.
    func remove(_ r: RequestID, _ b: UInt8) {
        let k = Self.key(r)
        var i = home(k, b)
        while values[i] >= 0 {
            if keys[i] == k && branches[i] == b { break }
            i = (i + 1) & mask
        }
        guard values[i] >= 0 else { return }
        values[i] = -1
        count -= 1
        // Backward-shift the following cluster so lookups never stop early.
        var j = (i + 1) & mask
        while values[j] >= 0 {
            let h = home(keys[j], branches[j])
            // Move entry j into the hole at i if its home is not in (i, j].
            let inRange = i <= j ? (h > i && h <= j) : (h > i || h <= j)
            if !inRange {
                keys[i] = keys[j]
                branches[i] = branches[j]
                values[i] = values[j]
                values[j] = -1
                i = j
            }
            j = (j + 1) & mask
        }
    }
}

/// A fixed-capacity free list of slot numbers `0..<capacity`.
final class SlotAllocator {
    private let stack: UnsafeMutablePointer<Int32>
    private var top: Int
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        stack = .allocate(capacity: capacity)
        var i = 0
        while i < capacity {
            stack[i] = Int32(capacity - 1 - i)
            i += 1
        }
        top = capacity
    }

    deinit { stack.deallocate() }

    var inUse: Int { capacity - top }

    /// A free slot, or nil when all are taken.
    func take() -> Int? {
        guard top > 0 else { return nil }
        top -= 1
        return Int(stack[top])
    }

    func give(_ slot: Int) {
        guard top < capacity else { return }
        stack[top] = Int32(slot)
        top += 1
    }
}
