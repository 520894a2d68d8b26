public import AKRPEngine
public import AKRPKeySource

/// The key streams of a simulated network: link `l`'s units are those of the
/// ``SeededKeyStream`` of its ``LinkID`` and the run's seed — the same generator as the simulated
/// device pair and the USB emulator, so both ends of a link draw the same bytes, as two QKD
/// devices of one link do. This type only indexes the streams by link number; it generates nothing
/// itself.
public struct LinkKeyStreams: Sendable {
    /// Bytes per unit.
    public let unitSize: Int
    /// The stream of each link, by link index.
    public let streams: [SeededKeyStream]

    /// The streams of `links` (by index) for `seed`, in units of `unitSize` bytes.
    public init(seed: UInt64, links: [LinkID], unitSize: Int) {
        self.unitSize = unitSize
        streams = links.map { SeededKeyStream(seed: seed, link: $0) }
    }

    /// Writes `count` units of link number `link` starting at `index` into `buffer` (which holds
    /// `count * unitSize` bytes).
    public func fill(link: Int, index: UInt64, count: Int, into buffer: UnsafeMutableRawBufferPointer) {
        streams[link].fill(firstIndex: index, unitCount: count, unitSize: unitSize, into: buffer)
    }
}

extension LinkKeyStreams {
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

extension LinkKeyStreams {
    /// The stream bytes of `units` of `link`, concatenated in ascending index order — what a key made of
    /// those units must be (docs/PROTOCOL.md §9.1). Nil when `link` is not one of the streams' links.
    public func bytes(link: LinkID, units: UnitRuns) -> [UInt8]? {
        guard let stream = streams.first(where: { $0.link == link }) else { return nil }
        var out = [UInt8](repeating: 0, count: units.unitCount * unitSize)
        var offset = 0
        out.withUnsafeMutableBytes { buffer in
            var r = 0
            while r < Int(units.runCount) {
                let run = units[r]
                let length = Int(run.count) * unitSize
                stream.fill(
                    firstIndex: run.start, unitCount: Int(run.count), unitSize: unitSize,
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + length)]))
                offset += length
                r += 1
            }
        }
        return out
    }
}
