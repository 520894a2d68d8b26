public import AKRPEngine

/// The deterministic key stream of a simulated or emulated QKD link.
///
/// Unit `i` is the concatenation, truncated to the unit size, of
/// `SHA-256(seed ‖ low ‖ high ‖ i ‖ block)` for `block = 0, 1, …`, all fields little-endian
/// (`seed`, `i`: 8 bytes; `low`, `high`, `block`: 4 bytes). The USB emulator in
/// `Hardware/emulator` uses the same definition (Hardware/QKD-USB.md), so tests can check that
/// emulated devices and simulated ones agree byte for byte. It is a simulation stream, not a
/// source of secret key.
public struct SeededKeyStream: Sendable, Equatable {
    /// The seed both ends share.
    public var seed: UInt64
    /// The link the stream belongs to; part of the hash input.
    public var link: LinkID

    /// Creates the stream of `link` for `seed`.
    public init(seed: UInt64, link: LinkID) {
        self.seed = seed
        self.link = link
    }

    /// Writes units `firstIndex ..< firstIndex + unitCount` of size `unitSize` bytes to `output`,
    /// which must hold exactly `unitCount × unitSize` bytes.
    public func fill(firstIndex: UnitIndex, unitCount: Int, unitSize: Int, into output: UnsafeMutableRawBufferPointer) {
        precondition(unitSize > 0 && unitCount >= 0 && output.count == unitCount * unitSize, "output size mismatch")
        var message = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))  // 28 bytes used
        var digest = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &message) { m in
            m.storeBytes(of: seed.littleEndian, toByteOffset: 0, as: UInt64.self)
            m.storeBytes(of: link.low.rawValue.littleEndian, toByteOffset: 8, as: UInt32.self)
            m.storeBytes(of: link.high.rawValue.littleEndian, toByteOffset: 12, as: UInt32.self)
            withUnsafeMutableBytes(of: &digest) { d in
                var offset = 0
                for unit in 0..<unitCount {
                    m.storeBytes(of: (firstIndex &+ UInt64(unit)).littleEndian, toByteOffset: 16, as: UInt64.self)
                    var produced = 0
                    var block: UInt32 = 0
                    while produced < unitSize {
                        m.storeBytes(of: block.littleEndian, toByteOffset: 24, as: UInt32.self)
                        SHA256Block.hash(UnsafeRawBufferPointer(rebasing: m[0..<28]), into: d)
                        let take = min(32, unitSize - produced)
                        output.baseAddress!.advanced(by: offset + produced).copyMemory(from: d.baseAddress!, byteCount: take)
                        produced += take
                        block &+= 1
                    }
                    offset += unitSize
                }
                wipe(d)
            }
        }
    }
}
