/// Appends little-endian fields to a byte string.
struct ImageWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { little(UInt64(v), 2) }
    mutating func u32(_ v: UInt32) { little(UInt64(v), 4) }
    mutating func u64(_ v: UInt64) { little(v, 8) }
    /// A signed integer as two's complement in 8 bytes.
    mutating func i64(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    /// A count of following items (4 bytes; a count over `UInt32.max` cannot be held in memory anyway).
    mutating func count(_ n: Int) { u32(UInt32(clamping: n)) }
    /// A string as a 4-byte length and its UTF-8 bytes.
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(clamping: utf8.count))
        bytes += utf8
    }

    private mutating func little(_ v: UInt64, _ size: Int) {
        for i in 0..<size { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
}

/// Reads little-endian fields of an image body. Never traps: each read checks the bytes left and
/// throws ``ConfigurationImageError/malformedBody(offset:field:reason:)`` naming the field.
struct ImageReader {
    typealias Failure = ConfigurationImageError
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    /// Reads `bytes[start..<end]`.
    init(_ bytes: [UInt8], start: Int, end: Int) {
        self.bytes = bytes
        offset = start
        self.end = end
    }

    var remaining: Int { end - offset }

    mutating func u8(_ field: String) throws(Failure) -> UInt8 { UInt8(try little(field, 1)) }
    mutating func u16(_ field: String) throws(Failure) -> UInt16 { UInt16(try little(field, 2)) }
    mutating func u32(_ field: String) throws(Failure) -> UInt32 { UInt32(try little(field, 4)) }
    mutating func u64(_ field: String) throws(Failure) -> UInt64 { try little(field, 8) }
    mutating func f64(_ field: String) throws(Failure) -> Double { Double(bitPattern: try little(field, 8)) }

    /// A signed 8-byte integer that fits `Int` on this platform.
    mutating func i64(_ field: String) throws(Failure) -> Int {
        let start = offset
        let v = Int64(bitPattern: try little(field, 8))
        guard let n = Int(exactly: v) else { throw malformed(start, field, "\(v) does not fit this platform's integers") }
        return n
    }

    mutating func bool(_ field: String) throws(Failure) -> Bool {
        let start = offset
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let v: throw malformed(start, field, "a yes/no byte must be 0 or 1, got \(v)")
        }
    }

    /// A count of following items, at most `maximum`, each taking at least `itemSize` bytes, so that
    /// the count can never make the decoder allocate more than the image holds.
    mutating func count(_ field: String, maximum: Int, itemSize: Int) throws(Failure) -> Int {
        let start = offset
        let n = Int(try u32(field))
        guard n <= maximum else { throw malformed(start, field, "count \(n) exceeds \(maximum)") }
        guard n <= remaining / max(itemSize, 1) else {
            throw malformed(start, field, "count \(n) needs more bytes than the \(remaining) left")
        }
        return n
    }

    /// A string: 4-byte length (at most `maximum`), then UTF-8.
    mutating func string(_ field: String, maximum: Int) throws(Failure) -> String {
        let start = offset
        let n = Int(try u32(field))
        guard n <= maximum else { throw malformed(start, field, "string of \(n) bytes exceeds \(maximum)") }
        guard n <= remaining else { throw malformed(start, field, "string of \(n) bytes runs past the body's end") }
        guard let s = String(validating: bytes[offset..<(offset + n)], as: UTF8.self) else {
            throw malformed(start, field, "not valid UTF-8")
        }
        offset += n
        return s
    }

    private mutating func little(_ field: String, _ size: Int) throws(Failure) -> UInt64 {
        guard size <= remaining else { throw malformed(offset, field, "the body ends inside this field") }
        var v: UInt64 = 0
        for i in 0..<size { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += size
        return v
    }

    /// An error at body offset `at` (counted from the body's first byte).
    func malformed(_ at: Int, _ field: String, _ reason: String) -> Failure {
        .malformedBody(offset: at - ConfigurationImage.headerSize, field: field, reason: reason)
    }
}
