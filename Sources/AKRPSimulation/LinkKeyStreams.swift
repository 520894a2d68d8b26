public import AKRPEngine

/// Deterministic key material: the bytes of unit `index` of link `link` in the stream of `seed`.
/// Both ends of a link draw the same bytes, as two QKD devices of one link do.
public struct KeyStream: Sendable {
    public let seed: UInt64
    public let unitSize: Int
    public init(seed: UInt64, unitSize: Int) {
        self.seed = seed
        self.unitSize = unitSize
    }
    /// Writes `count` units starting at `index` into `buffer` (which holds `count * unitSize` bytes).
    public func fill(link: Int, index: UInt64, count: Int, into buffer: UnsafeMutableRawBufferPointer) {
        var k = 0
        while k < count {
            var g = SplitMix64(seed: seed ^ (UInt64(link) &* 0xA24B_AED4_963E_E407) ^ ((index &+ UInt64(k)) &* 0x9FB2_1C65_1E98_DF25))
            var b = 0
            while b < unitSize {
                let w = g.next()
                var j = 0
                while j < 8 && b < unitSize {
                    buffer[k * unitSize + b] = UInt8(truncatingIfNeeded: w >> (8 * UInt64(j)))
                    b += 1
                    j += 1
                }
            }
            k += 1
        }
    }
}

extension KeyStream {
    /// A simulated device of link `link` hands the key it holds — units `next ..< available` of the
    /// stream — to `engine`'s pool toward `peer`, as many as the pool has room for. The bytes are
    /// generated into `scratch` and wiped after the hand-over.
    /// - Returns: the device's next unit index afterwards: advanced by the units the pool took, or moved
    ///   to the index the pool expects (at most `available`) when the pool skipped ahead after a resync.
    public func handOver(
        link: Int, next: UInt64, available: UInt64, to engine: Engine, from peer: NodeID,
        scratch: inout [UInt8], now: Nanoseconds, outbox: Outbox
    ) -> UInt64 {
        guard available > next, let pool = engine.pool(toward: peer) else { return next }
        let n = min(Int(available - next), pool.room, scratch.count / unitSize)
        guard n > 0 else { return next }
        return scratch.withUnsafeMutableBytes { buf -> UInt64 in
            let part = UnsafeMutableRawBufferPointer(rebasing: buf[0..<(n * unitSize)])
            defer { wipe(part) }
            fill(link: link, index: next, count: n, into: part)
            do throws(KeyPoolError) {
                try engine.deliverKey(from: peer, index: next, bytes: UnsafeRawBufferPointer(part), now: now, outbox: outbox)
                return next + UInt64(n)
            } catch {
                // Out of order after a resync skip: the device jumps to where the pool is.
                if case .outOfOrder(let expected, _) = error, expected > next { return min(expected, available) }
                return next
            }
        }
    }
}
