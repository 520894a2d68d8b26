/// Reads big-endian integers from a byte range. Every read returns `nil` when the bytes are short and
/// then leaves the position where it was, so a parser can report *which* field was missing.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    let end: Int

    /// A reader over `bytes[start..<end]`; the caller guarantees `0 <= start <= end <= bytes.count`.
    init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - position }

    @inline(__always)
    mutating func readUInt8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    @inline(__always)
    mutating func readUInt16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { position += 2 }
        return UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    @inline(__always)
    mutating func readUInt32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { position += 4 }
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    @inline(__always)
    mutating func readUInt64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        defer { position += 8 }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    /// Skips `count` bytes and returns where they start, or `nil` (position unchanged) when short.
    @inline(__always)
    mutating func skip(_ count: Int) -> Int? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return position
    }
}

/// Writes big-endian integers into a caller-provided buffer. The caller checks the total size first,
/// so individual writes only guard against programmer error.
struct ByteWriter {
    let bytes: UnsafeMutableRawBufferPointer
    private(set) var position: Int

    init(_ bytes: UnsafeMutableRawBufferPointer, at start: Int = 0) {
        self.bytes = bytes
        self.position = start
    }

    @inline(__always)
    mutating func write(_ value: UInt8) {
        bytes[position] = value
        position += 1
    }

    @inline(__always)
    mutating func write(_ value: UInt16) {
        precondition(bytes.count - position >= 2)
        bytes.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt16.self)
        position += 2
    }

    @inline(__always)
    mutating func write(_ value: UInt32) {
        precondition(bytes.count - position >= 4)
        bytes.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt32.self)
        position += 4
    }

    @inline(__always)
    mutating func write(_ value: UInt64) {
        precondition(bytes.count - position >= 8)
        bytes.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt64.self)
        position += 8
    }

    @inline(__always)
    mutating func write(bytes source: UnsafeRawBufferPointer) {
        precondition(bytes.count - position >= source.count)
        if source.count > 0, let base = bytes.baseAddress, let from = source.baseAddress {
            (base + position).copyMemory(from: from, byteCount: source.count)
        }
        position += source.count
    }
}
