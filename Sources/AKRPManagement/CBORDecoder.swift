/// Limits a ``CBORDecoder`` enforces before it allocates or recurses.
public struct CBORLimits: Sendable, Equatable {
    /// Deepest nesting of arrays, maps and tags (the top-level item is depth 1).
    public var maximumDepth: Int
    /// Most data items in one document (every key, value and element counts).
    public var maximumItems: Int
    /// Longest byte or text string, in bytes.
    public var maximumStringLength: Int

    /// Limits for SMP bodies: 16 levels, 4,096 items, strings up to 64 KiB.
    public static let smp = CBORLimits(maximumDepth: 16, maximumItems: 4096, maximumStringLength: 65536)

    /// Limits with the given depth (levels), item count and string length (bytes).
    public init(maximumDepth: Int, maximumItems: Int, maximumStringLength: Int) {
        self.maximumDepth = maximumDepth
        self.maximumItems = maximumItems
        self.maximumStringLength = maximumStringLength
    }
}

/// Reads one CBOR data item (RFC 8949) from bytes, bounded by ``CBORLimits``: lengths are checked against
/// the limits and the bytes left before anything is allocated, nesting is checked before recursing, and
/// every malformed input is a typed ``CBORError`` — no input traps.
public struct CBORDecoder {
    let bytes: [UInt8]
    let limits: CBORLimits
    var offset = 0
    var items = 0

    /// Decodes exactly one item filling `bytes`.
    /// - Throws: ``CBORError`` for malformed input, limits exceeded, or trailing bytes.
    public static func decode(_ bytes: [UInt8], limits: CBORLimits = .smp) throws(CBORError) -> CBORValue {
        var d = CBORDecoder(bytes: bytes, limits: limits)
        let value = try d.item(depth: 1)
        guard d.offset == bytes.count else { throw .trailingBytes(offset: d.offset) }
        return value
    }

    /// Decodes one item at the start of `bytes` and returns it with the number of bytes it used.
    public static func decodePrefix(_ bytes: [UInt8], limits: CBORLimits = .smp) throws(CBORError) -> (CBORValue, Int) {
        var d = CBORDecoder(bytes: bytes, limits: limits)
        let value = try d.item(depth: 1)
        return (value, d.offset)
    }

    private mutating func byte() throws(CBORError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The argument of a head with additional information `info` (0…27); nil for 31 (indefinite).
    private mutating func argument(_ info: UInt8, at start: Int) throws(CBORError) -> UInt64? {
        switch info {
        case 0..<24: return UInt64(info)
        case 24...27:
            let n = 1 << Int(info - 24)
            guard bytes.count - offset >= n else { throw .truncated(offset: bytes.count) }
            var v: UInt64 = 0
            for _ in 0..<n { v = v << 8 | UInt64(bytes[offset]); offset += 1 }
            return v
        case 31: return nil
        default: throw .reservedAdditionalInformation(offset: start)
        }
    }

    private mutating func count() throws(CBORError) {
        items += 1
        guard items <= limits.maximumItems else { throw .tooManyItems(offset: offset, limit: limits.maximumItems) }
    }

    /// A definite string length, checked against the limit and the bytes left.
    private func stringLength(_ n: UInt64, at start: Int) throws(CBORError) -> Int {
        guard n <= UInt64(limits.maximumStringLength), n <= UInt64(bytes.count - offset) else {
            throw .lengthTooLarge(offset: start, length: n)
        }
        return Int(n)
    }

    private mutating func stringBytes(major: UInt8, info: UInt8, at start: Int) throws(CBORError) -> [UInt8] {
        if let n = try argument(info, at: start) {
            let length = try stringLength(n, at: start)
            defer { offset += length }
            return Array(bytes[offset..<(offset + length)])
        }
        // Indefinite length: definite chunks of the same major type until a break.
        var out: [UInt8] = []
        while true {
            let chunkStart = offset
            let head = try byte()
            if head == 0xFF { return out }
            guard head >> 5 == major, head & 0x1F != 31 else { throw .invalidChunk(offset: chunkStart) }
            guard let n = try argument(head & 0x1F, at: chunkStart) else { throw .invalidChunk(offset: chunkStart) }
            let length = try stringLength(n, at: chunkStart)
            guard out.count + length <= limits.maximumStringLength else {
                throw .lengthTooLarge(offset: chunkStart, length: UInt64(out.count + length))
            }
            out += bytes[offset..<(offset + length)]
            offset += length
        }
    }

    private mutating func item(depth: Int) throws(CBORError) -> CBORValue {
        let start = offset
        try count()
        let head = try byte()
        let major = head >> 5
        let info = head & 0x1F
        switch major {
        case 0, 1:
            guard let n = try argument(info, at: start) else { throw .reservedAdditionalInformation(offset: start) }
            return major == 0 ? .unsigned(n) : .negative(n)
        case 2:
            return .bytes(try stringBytes(major: 2, info: info, at: start))
        case 3:
            let raw = try stringBytes(major: 3, info: info, at: start)
            guard let s = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(offset: start) }
            return .text(s)
        case 4, 5:
            guard depth < limits.maximumDepth else { throw .tooDeep(offset: start, limit: limits.maximumDepth) }
            let n = try argument(info, at: start)
            if let n {
                // Every element takes at least one byte: a count beyond the bytes left is malformed.
                let perEntry: UInt64 = major == 4 ? 1 : 2
                guard n <= UInt64(bytes.count - offset) / perEntry, n <= UInt64(limits.maximumItems) else {
                    throw .lengthTooLarge(offset: start, length: n)
                }
            }
            if major == 4 {
                var elements: [CBORValue] = []
                if let n {
                    elements.reserveCapacity(Int(n))
                    for _ in 0..<n { elements.append(try item(depth: depth + 1)) }
                } else {
                    while try !atBreak() { elements.append(try item(depth: depth + 1)) }
                }
                return .array(elements)
            }
            var pairs: [(CBORValue, CBORValue)] = []
            if let n {
                pairs.reserveCapacity(Int(n))
                for _ in 0..<n {
                    let k = try item(depth: depth + 1)
                    pairs.append((k, try item(depth: depth + 1)))
                }
            } else {
                while try !atBreak() {
                    let k = try item(depth: depth + 1)
                    pairs.append((k, try item(depth: depth + 1)))
                }
            }
            return .map(pairs)
        case 6:
            guard depth < limits.maximumDepth else { throw .tooDeep(offset: start, limit: limits.maximumDepth) }
            guard let tag = try argument(info, at: start) else { throw .reservedAdditionalInformation(offset: start) }
            return .tagged(tag, try item(depth: depth + 1))
        default:
            return try simpleOrFloat(info, at: start)
        }
    }

    /// Consumes a break byte if one is next.
    private mutating func atBreak() throws(CBORError) -> Bool {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        if bytes[offset] == 0xFF {
            offset += 1
            return true
        }
        return false
    }

    private mutating func simpleOrFloat(_ info: UInt8, at start: Int) throws(CBORError) -> CBORValue {
        switch info {
        case 20: return .bool(false)
        case 21: return .bool(true)
        case 22: return .null
        case 23: return .undefined
        case 24:
            let v = try byte()
            guard v >= 32 else { throw .invalidSimple(offset: start) }
            return .simple(v)
        case 25:
            guard let bits = try argument(25, at: start) else { throw .truncated(offset: offset) }
            return .float(Self.half(UInt16(truncatingIfNeeded: bits)))
        case 26:
            guard let bits = try argument(26, at: start) else { throw .truncated(offset: offset) }
            return .float(Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits))))
        case 27:
            guard let bits = try argument(27, at: start) else { throw .truncated(offset: offset) }
            return .float(Double(bitPattern: bits))
        case 31: throw .unexpectedBreak(offset: start)
        case 28, 29, 30: throw .reservedAdditionalInformation(offset: start)
        default: return .simple(info)
        }
    }

    /// An IEEE 754 half-precision value (RFC 8949 appendix D).
    static func half(_ h: UInt16) -> Double {
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = Double(h & 0x3FF)
        let magnitude: Double =
            switch exponent {
            case 0: mantissa * 0x1p-24
            case 31: mantissa == 0 ? .infinity : .nan
            default: (1 + mantissa / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
            }
        return h & 0x8000 != 0 ? -magnitude : magnitude
    }
}
