/// Reads little-endian fields from a reply; every read returns `nil` when bytes are short.
struct ByteCursor {
    private let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        guard remaining >= MemoryLayout<T>.size else { return nil }
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func skip(_ count: Int) -> Bool {
        guard remaining >= count else { return false }
        offset += count
        return true
    }

    /// A NUL-padded ASCII/UTF-8 field of `count` bytes.
    mutating func readText(_ count: Int) -> String? {
        guard remaining >= count else { return nil }
        let field = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        let end = field.firstIndex(of: 0) ?? field.count
        return String(decoding: field[..<end], as: UTF8.self)
    }
}

/// Appends little-endian fields to a byte array.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func writeText(_ text: String, length: Int) {
        let utf8 = Array(text.utf8.prefix(length))
        bytes += utf8
        bytes += [UInt8](repeating: 0, count: length - utf8.count)
    }
}
