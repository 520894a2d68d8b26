/// Writes CBOR data items (RFC 8949) in preferred serialisation: shortest heads, definite lengths, floats
/// as doubles. Output is bounded: ``encode(_:capacity:)`` throws ``CBORError/outputFull(capacity:)``
/// instead of growing past the capacity.
public struct CBOREncoder {
    private(set) var bytes: [UInt8] = []
    let capacity: Int

    /// The encoding of `value`, at most `capacity` bytes.
    public static func encode(_ value: CBORValue, capacity: Int = 1 << 20) throws(CBORError) -> [UInt8] {
        var e = CBOREncoder(capacity: capacity)
        try e.write(value)
        return e.bytes
    }

    init(capacity: Int) {
        self.capacity = capacity
        bytes.reserveCapacity(min(capacity, 512))
    }

    private mutating func append(_ b: UInt8) throws(CBORError) {
        guard bytes.count < capacity else { throw .outputFull(capacity: capacity) }
        bytes.append(b)
    }

    private mutating func append(contentsOf b: some Collection<UInt8>) throws(CBORError) {
        guard capacity - bytes.count >= b.count else { throw .outputFull(capacity: capacity) }
        bytes.append(contentsOf: b)
    }

    private mutating func head(_ major: UInt8, _ n: UInt64) throws(CBORError) {
        let m = major << 5
        switch n {
        case 0..<24: try append(m | UInt8(n))
        case 24...0xFF: try append(contentsOf: [m | 24, UInt8(n)])
        case 0x100...0xFFFF: try append(contentsOf: [m | 25, UInt8(n >> 8), UInt8(n & 0xFF)])
        case 0x1_0000...0xFFFF_FFFF:
            try append(m | 26)
            for shift in stride(from: 24, through: 0, by: -8) { try append(UInt8(truncatingIfNeeded: n >> UInt64(shift))) }
        default:
            try append(m | 27)
            for shift in stride(from: 56, through: 0, by: -8) { try append(UInt8(truncatingIfNeeded: n >> UInt64(shift))) }
        }
    }

    mutating func write(_ value: CBORValue) throws(CBORError) {
        switch value {
        case .unsigned(let n): try head(0, n)
        case .negative(let n): try head(1, n)
        case .bytes(let b):
            try head(2, UInt64(b.count))
            try append(contentsOf: b)
        case .text(let s):
            try head(3, UInt64(s.utf8.count))
            try append(contentsOf: s.utf8)
        case .array(let items):
            try head(4, UInt64(items.count))
            for item in items { try write(item) }
        case .map(let pairs):
            try head(5, UInt64(pairs.count))
            for (k, v) in pairs {
                try write(k)
                try write(v)
            }
        case .tagged(let tag, let item):
            try head(6, tag)
            try write(item)
        case .bool(let b): try append(b ? 0xF5 : 0xF4)
        case .null: try append(0xF6)
        case .undefined: try append(0xF7)
        case .simple(let v):
            if v < 24 { try append(0xE0 | v) } else { try append(contentsOf: [0xF8, v]) }
        case .float(let x):
            try append(0xFB)
            let bits = x.bitPattern
            for shift in stride(from: 56, through: 0, by: -8) { try append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        }
    }
}
