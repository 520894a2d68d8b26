public import AKRPEngine
import AKRPKeySource

/// The `key_ID` of a key cut from a relayed end-to-end key: a UUID (RFC 9562 version 8) that both boxes
/// derive the same way, so the slave's box needs nothing from the master's box but the relayed key itself.
///
/// The 122 free bits carry, most significant first: the relay's source box (16 bits), the relay request's
/// serial (32 bits), the key's byte offset in the relayed key (16 bits), its length in bytes (12 bits), and
/// a 46-bit *binding tag*: the first 46 bits of SHA-256 over the relayed key's first 32 bytes (never handed
/// out), a label, the master and slave SAE IDs, the offset and the length. Only the two boxes hold those
/// 32 bytes, so nobody else can make a key_ID that names another pair or another range of the same relay:
/// the slave's box recomputes the tag with the master SAE of the request path and the slave SAE of the
/// client certificate, and refuses a key_ID whose tag differs (docs/KEY-DELIVERY.md).
public struct KeyID: Hashable, Sendable, CustomStringConvertible {
    /// The relay request the key was cut from.
    public var relay: RequestID
    /// Byte offset of the key in the relayed key (≥ ``bindingBytes``).
    public var offset: Int
    /// Length of the key in bytes (1…4095).
    public var length: Int
    /// The binding tag (46 bits).
    public var tag: UInt64

    /// Bytes at the start of every relayed key that bind key_IDs to their pair; never handed out.
    public static let bindingBytes = 32
    static let tagBits: UInt64 = 46
    static let tagMask: UInt64 = (1 << 46) - 1

    /// A key_ID from its fields (the caller computed `tag` with ``bindingTag(binding:master:slave:offset:length:)``).
    public init(relay: RequestID, offset: Int, length: Int, tag: UInt64) {
        self.relay = relay
        self.offset = offset
        self.length = length
        self.tag = tag & Self.tagMask
    }

    /// Whether a relay source, offset and length fit the layout.
    public static func representable(source: NodeID, offset: Int, length: Int) -> Bool {
        source.rawValue <= 0xFFFF && (0...0xFFFF).contains(offset) && (1...0xFFF).contains(length)
    }

    /// The 46-bit tag binding (`master`, `slave`, `offset`, `length`) to a relayed key whose first
    /// ``bindingBytes`` bytes are `binding`.
    public static func bindingTag(
        binding: UnsafeRawBufferPointer, master: String, slave: String, offset: Int, length: Int
    ) -> UInt64 {
        var message: [UInt8] = []
        message.reserveCapacity(Self.bindingBytes + 24 + master.utf8.count + slave.utf8.count)
        message.append(contentsOf: binding.prefix(Self.bindingBytes))
        message.append(contentsOf: "akrp etsi-014 key_ID v1".utf8)
        message.append(0)
        message.append(contentsOf: master.utf8)
        message.append(0)
        message.append(contentsOf: slave.utf8)
        message.append(0)
        message.append(UInt8(truncatingIfNeeded: offset >> 8))
        message.append(UInt8(truncatingIfNeeded: offset))
        message.append(UInt8(truncatingIfNeeded: length >> 8))
        message.append(UInt8(truncatingIfNeeded: length))
        var digest = SHA256.hash(message)
        message.withUnsafeMutableBytes { wipe($0) }
        var t: UInt64 = 0
        for i in 0..<8 { t = t << 8 | UInt64(digest[i]) }
        digest.withUnsafeMutableBytes { wipe($0) }
        return t >> (64 - tagBits)
    }

    /// The 122 payload bits, right-aligned.
    private var payload: UInt128 {
        var p = UInt128(relay.source.rawValue & 0xFFFF)
        p = p << 32 | UInt128(relay.serial)
        p = p << 16 | UInt128(UInt16(truncatingIfNeeded: offset))
        p = p << 12 | UInt128(length & 0xFFF)
        p = p << 46 | UInt128(tag & Self.tagMask)
        return p
    }

    /// The 16 bytes of the UUID.
    public var bytes: [UInt8] {
        let p = payload
        // UUID bit 0 is the most significant: 48 payload bits, version (4), 12 payload bits, variant (2), 62.
        let high48 = p >> 74
        let mid12 = (p >> 62) & 0xFFF
        let low62 = p & ((UInt128(1) << 62) - 1)
        let value = high48 << 80 | UInt128(8) << 76 | mid12 << 64 | UInt128(2) << 62 | low62
        return (0..<16).map { UInt8(truncatingIfNeeded: value >> (8 * (15 - UInt128($0)))) }
    }

    /// The canonical text: 8-4-4-4-12 lowercase hexadecimal digits.
    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses a UUID in 8-4-4-4-12 form (either case); nil when it is not one, or not a version-8 key_ID
    /// of this layout (a UUID from another KME is simply unknown here).
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return nil }
        var value: UInt128 = 0
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt128(v)
        }
        guard (value >> 76) & 0xF == 8, (value >> 62) & 0x3 == 2 else { return nil }
        let p = (value >> 80) << 74 | ((value >> 64) & 0xFFF) << 62 | (value & ((UInt128(1) << 62) - 1))
        let tag = UInt64(truncatingIfNeeded: p) & Self.tagMask
        let length = Int(truncatingIfNeeded: (p >> 46) & 0xFFF)
        let offset = Int(truncatingIfNeeded: (p >> 58) & 0xFFFF)
        let serial = UInt32(truncatingIfNeeded: p >> 74)
        let source = UInt32(truncatingIfNeeded: (p >> 106) & 0xFFFF)
        guard length >= 1, source != 0 else { return nil }
        self.init(relay: RequestID(source: NodeID(source), serial: serial), offset: offset, length: length, tag: tag)
    }
}
