import AKRPEngine
import AKRPKeySource

let testLink = LinkID(NodeID(1), NodeID(2))

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { byte in
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }.joined()
}

/// Takes every unit out of `sink` as one byte array (for comparisons in tests only).
func drain(_ sink: RingKeySink) -> (first: UnitIndex, bytes: [UInt8]) {
    var output = [UInt8](repeating: 0, count: sink.count * sink.unitSize)
    let taken = output.withUnsafeMutableBytes { sink.take(upTo: sink.count, into: $0) }
    return (taken.first, Array(output.prefix(taken.count * sink.unitSize)))
}

/// Builds a trace in the dataset format from `(timestamp, key bytes)` records.
func traceBytes(_ records: [(UInt64, [UInt8])], bigEndian: Bool = false) -> [UInt8] {
    var bytes: [UInt8] = []
    for (time, key) in records {
        let t = bigEndian ? time.bigEndian : time.littleEndian
        let n = bigEndian ? UInt16(key.count).bigEndian : UInt16(key.count).littleEndian
        withUnsafeBytes(of: t) { bytes += $0 }
        withUnsafeBytes(of: n) { bytes += $0 }
        bytes += key
    }
    return bytes
}
